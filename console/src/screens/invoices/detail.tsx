// An invoice: its amounts and status, the payments allocated to it, its credit notes (a writer may issue
// one), Void (a writer, with a reason, confirmed) and its history. A customer's staff see their own invoices here,
// read-only, with no link to the partner's screens. The history's allocations, releases and provisioning are
// written from the table's stream a moment after they happen (docs/decisions.md, "Reading back"): the history is
// read again, a few times, while an allocation the invoice holds is not in it yet.
import { useEffect, useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { type ApiError, type AuditRecord, type Invoice, type Schemas, api, call, newKey, useLoad } from "../../api";
import { Field, History, Loading, Money, Notice, Pager, Refusal, Select } from "../../components";
import { formatMoney, parseMoney } from "../../money";
import { Link } from "../../router";
import { canWrite, isCustomer } from "../../session";
import { REASONS, STATUSES, TYPES, label } from "./labels";

type Reload = () => void;

export function InvoiceDetail({ session, params }: ScreenProps) {
  const id = params["invoiceId"] ?? "";
  const invoice = useLoad(() => call(api.GET("/invoices/{invoice_id}", { params: { path: { invoice_id: id } } })), [id]);
  const writer = canWrite(session);
  // a customer's staff read their own invoices: the Organization Management and Payments screens are the partner's
  const partnerLinks = !isCustomer(session);
  if (invoice.error) {
    return (
      <section aria-labelledby="invoice-title">
        <p>
          <Link href="/invoices">← Invoices</Link>
        </p>
        <h1 id="invoice-title">Invoice</h1>
        <Refusal error={invoice.error} />
      </section>
    );
  }
  if (!invoice.data) return <Loading what="the invoice" />;
  const inv = invoice.data;
  return (
    <section aria-labelledby="invoice-title">
      <p>
        <Link href="/invoices">← Invoices</Link>
      </p>
      <h1 id="invoice-title">
        Invoice {inv.number} · <Money amount={inv.amount} currency={inv.currency} />
      </h1>
      <Details invoice={inv} partnerLinks={partnerLinks} />
      <Allocations invoice={inv} partnerLinks={partnerLinks} />
      <CreditNotes invoice={inv} writer={writer} onChanged={invoice.reload} />
      {writer && inv.status !== "void" && <Void invoice={inv} onChanged={invoice.reload} />}
      <InvoiceHistory invoice={inv} />
    </section>
  );
}

function Details({ invoice: i, partnerLinks }: { invoice: Invoice; partnerLinks: boolean }) {
  return (
    <section aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <dl class="facts">
        <dt>Number</dt>
        <dd>{i.number}</dd>
        <dt>Organization</dt>
        <dd>{partnerLinks ? <Link href={`/organizations/${i.org_id}`}>{i.org_name}</Link> : i.org_name}</dd>
        <dt>Type</dt>
        <dd>{label(TYPES, i.type)}</dd>
        <dt>Status</dt>
        <dd>{label(STATUSES, i.status)}</dd>
        <dt>Amount</dt>
        <dd>
          <Money amount={i.amount} currency={i.currency} />
        </dd>
        <dt>Paid</dt>
        <dd>
          <Money amount={i.amount_paid} currency={i.currency} />
        </dd>
        <dt>Credited</dt>
        <dd>
          <Money amount={i.amount_credited} currency={i.currency} />
        </dd>
        <dt>Due</dt>
        <dd>
          <Money amount={i.amount_due} currency={i.currency} />
        </dd>
        <dt>Issued date</dt>
        <dd>{i.issued_date}</dd>
        <dt>Due date</dt>
        <dd>{i.due_date ?? "—"}</dd>
        {i.voided_at && (
          <>
            <dt>Voided</dt>
            <dd>
              {i.voided_at}: {i.void_reason}
            </dd>
          </>
        )}
        <dt>Created</dt>
        <dd>{i.created_at}</dd>
      </dl>
    </section>
  );
}

function Allocations({ invoice: i, partnerLinks }: { invoice: Invoice; partnerLinks: boolean }) {
  return (
    <section aria-labelledby="allocations-title">
      <h2 id="allocations-title">Allocations</h2>
      <table>
        <caption>Payments allocated to this invoice</caption>
        <thead>
          <tr>
            <th scope="col">Payment</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col">Allocated at</th>
          </tr>
        </thead>
        <tbody>
          {i.allocations.length === 0 && (
            <tr>
              <td colSpan={3}>Nothing allocated yet.</td>
            </tr>
          )}
          {i.allocations.map((a) => (
            <tr key={a.payment_id}>
              <td>{partnerLinks ? <Link href={`/payments/${a.payment_id}`}>{a.payment_id}</Link> : a.payment_id}</td>
              <td class="num">
                <Money amount={a.amount} currency={i.currency} />
              </td>
              <td>{a.allocated_at}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

type CreditNote = Schemas["CreditNoteOut"];

function CreditNotes({ invoice: i, writer, onChanged }: { invoice: Invoice; writer: boolean; onChanged: Reload }) {
  const [issued, setIssued] = useState<CreditNote | null>(null);
  return (
    <section aria-labelledby="credit-notes-title">
      <h2 id="credit-notes-title">Credit notes</h2>
      <table>
        <caption>Credit notes of this invoice</caption>
        <thead>
          <tr>
            <th scope="col">Number</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col">Reason</th>
            <th scope="col">Issued at</th>
          </tr>
        </thead>
        <tbody>
          {i.credit_notes.length === 0 && (
            <tr>
              <td colSpan={4}>No credit note.</td>
            </tr>
          )}
          {i.credit_notes.map((c) => (
            <tr key={c.id}>
              <td>{c.number}</td>
              <td class="num">
                <Money amount={c.amount} currency={i.currency} />
              </td>
              <td>{label(REASONS, c.reason)}</td>
              <td>{c.created_at}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {issued && (
        <Notice>
          {issued.number} issued: {formatMoney(issued.due_reduced, issued.currency)} off what is due,{" "}
          {formatMoney(issued.wallet_credited, issued.currency)} credited to the organization's wallet.
        </Notice>
      )}
      {writer && i.type === "top_up" && <p class="hint">A top-up invoice takes no credit note.</p>}
      {writer && i.type === "standard" && i.status !== "void" && i.amount_credited < i.amount && (
        <CreditNoteForm
          invoice={i}
          onIssued={(note) => {
            setIssued(note);
            onChanged();
          }}
        />
      )}
    </section>
  );
}

function CreditNoteForm({ invoice: i, onIssued }: { invoice: Invoice; onIssued: (note: CreditNote) => void }) {
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [memo, setMemo] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [key, setKey] = useState(newKey);
  const [busy, setBusy] = useState(false);
  const creditable = i.amount - i.amount_credited;

  async function submit(event: Event) {
    event.preventDefault();
    const found: Record<string, string> = {};
    const parsed = parseMoney(amount, i.currency);
    if (!parsed.ok) found["amount"] = parsed.message;
    else if (parsed.minor > creditable) {
      found["amount"] = `At most ${formatMoney(creditable, i.currency)}: the amount less earlier credit notes.`;
    }
    if (!reason) found["reason"] = "Choose a reason.";
    setErrors(found);
    setRefusal(null);
    if (Object.keys(found).length || !parsed.ok) return;
    setBusy(true);
    try {
      const note = await call(
        api.POST("/invoices/{invoice_id}/credit-notes", {
          params: { path: { invoice_id: i.id }, header: { "Idempotency-Key": key } },
          body: { amount: parsed.minor, reason: reason as CreditNote["reason"], memo: memo.trim() || null },
        }),
      );
      setKey(newKey());
      setAmount("");
      setReason("");
      setMemo("");
      onIssued(note);
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      const byField: Record<string, string> = {};
      for (const field of ["amount", "reason", "memo"]) {
        const message = refused.about?.(field);
        if (message) byField[field] = message;
      }
      if (refused.code === "credit_exceeds_invoice") byField["amount"] = refused.message;
      setErrors(byField);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} class="form" aria-label="Issue a credit note" noValidate>
      <Field
        label="Credit amount"
        inputMode="decimal"
        value={amount}
        onInput={(e) => setAmount(e.currentTarget.value)}
        hint={`In ${i.currency}, at most ${formatMoney(creditable, i.currency)}`}
        error={errors["amount"]}
        required
      />
      <Select
        label="Reason"
        value={reason}
        onChange={(e) => setReason(e.currentTarget.value)}
        options={[["", "Choose a reason"], ...REASONS]}
        error={errors["reason"]}
        required
      />
      <Field label="Memo" value={memo} onInput={(e) => setMemo(e.currentTarget.value)} error={errors["memo"]} />
      <Refusal error={refusal} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          Issue credit note
        </button>
      </div>
    </form>
  );
}

function Void({ invoice: i, onChanged }: { invoice: Invoice; onChanged: Reload }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [key] = useState(newKey);
  if (!open) {
    return (
      <div class="actions">
        <button type="button" class="secondary" onClick={() => setOpen(true)}>
          Void invoice…
        </button>
      </div>
    );
  }
  async function submit(event: Event) {
    event.preventDefault();
    setRefusal(null);
    if (!reason.trim()) return setError("Say why the invoice is void.");
    setError(undefined);
    if (!window.confirm(`Void invoice ${i.number}? It is then never due and takes no payment; this cannot be undone.`)) {
      return;
    }
    try {
      await call(
        api.POST("/invoices/{invoice_id}/void", {
          params: { path: { invoice_id: i.id }, header: { "Idempotency-Key": key } },
          body: { reason: reason.trim() },
        }),
      );
      onChanged();
    } catch (failure) {
      const refused = failure as ApiError;
      setRefusal(refused);
      setError(refused.about?.("reason"));
    }
  }
  return (
    <section aria-labelledby="void-title">
      <h2 id="void-title">Void invoice</h2>
      <p>Only an invoice with nothing allocated and no credit note can be voided.</p>
      <form onSubmit={submit} class="inline-form" aria-label="Void invoice" noValidate>
        <Field label="Void reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} error={error} required />
        <button type="submit" class="danger">
          Void invoice
        </button>
        <button type="button" class="secondary" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </form>
      <Refusal error={refusal} />
    </section>
  );
}

/** The payments an allocation record of the history names. */
function allocatedIn(items: AuditRecord[]): Set<string> {
  return new Set(
    items.filter((r) => r.action === "invoice.allocated").map((r) => String(r.changes["payment_id"]?.to ?? "")),
  );
}

const CATCH_UP_TRIES = 8;
const CATCH_UP_MS = 500;

function InvoiceHistory({ invoice: i }: { invoice: Invoice }) {
  const [cursor, setCursor] = useState<string | undefined>();
  const history = useLoad(
    () =>
      call(
        api.GET("/invoices/{invoice_id}/history", {
          params: { path: { invoice_id: i.id }, query: { limit: 50, cursor } },
        }),
      ),
    [i.id, i.version, cursor],
  );
  const [tries, setTries] = useState(0);
  useEffect(() => setTries(0), [i.version]); // a write to the invoice: catch up again
  const items = history.data?.items;
  const behind = !cursor && !!items && i.allocations.some((a) => !allocatedIn(items).has(a.payment_id));
  const { reload } = history;
  useEffect(() => {
    if (!behind || tries >= CATCH_UP_TRIES) return;
    const timer = window.setTimeout(() => {
      setTries((n) => n + 1);
      reload();
    }, CATCH_UP_MS);
    return () => window.clearTimeout(timer);
  }, [behind, tries, reload, items]);

  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <p class="hint">
        Allocations, releases and provisioning are added here a moment after they are made.{" "}
        <button type="button" class="secondary" onClick={reload}>
          Refresh history
        </button>
      </p>
      <Refusal error={history.error} />
      {items ? (
        <History items={items} caption="What happened to this invoice, newest first" currency={i.currency} />
      ) : (
        <Loading what="the history" />
      )}
      <Pager next={history.data?.next_cursor} cursor={cursor} onPage={setCursor} label="Pages of the history" />
    </section>
  );
}
