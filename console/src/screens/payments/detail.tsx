// A payment (the Eye icon): its fields (Pencil: edit), Assigned Organization (assign, Un-assign with the
// edits left), Allocation (invoices found by organization name, number and issued date; several at once,
// an amount each; Assign & Allocate), top-up to the wallet, bounce, card refunds, delete, history.
import { useEffect, useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { type ApiError, type Invoice, type Payment, type Schemas, api, call, newKey, useLoad } from "../../api";
import { Field, History, Loading, Money, Pager, Refusal, Select } from "../../components";
import { formatMoney, parseMoney, toInput } from "../../money";
import { OrganizationPicker, byName, useOrganizations } from "../../orgs";
import { Link, navigate } from "../../router";
import { canWrite } from "../../session";
import { METHODS, STATUSES, label } from "./labels";

type Reload = () => void;
type PaymentPatch = Schemas["PaymentPatch"];

export function PaymentDetail({ session, params }: ScreenProps) {
  const id = params["paymentId"] ?? "";
  const payment = useLoad(() => call(api.GET("/payments/{payment_id}", { params: { path: { payment_id: id } } })), [id]);
  const [historyCursor, setHistoryCursor] = useState<string | undefined>();
  const history = useLoad(
    () =>
      call(
        api.GET("/payments/{payment_id}/history", {
          params: { path: { payment_id: id }, query: { limit: 50, cursor: historyCursor } },
        }),
      ),
    [id, payment.data?.version, historyCursor],
  );
  const writer = canWrite(session);
  if (payment.error) return <Refusal error={payment.error} />;
  if (!payment.data) return <Loading what="the payment" />;
  const p = payment.data;
  const live = p.status !== "bounced";
  return (
    <section aria-labelledby="payment-title">
      <p>
        <Link href="/payments">← Payments</Link>
      </p>
      <h1 id="payment-title">
        Payment {p.reference ?? p.id} · <Money amount={p.amount} currency={p.currency} />
      </h1>
      <Summary payment={p} writer={writer && live} onChanged={payment.reload} />
      <Assignment payment={p} writer={writer && live} onChanged={payment.reload} />
      <Allocation payment={p} writer={writer && live} onChanged={payment.reload} />
      {writer && live && <TopUp payment={p} onChanged={payment.reload} />}
      {writer && live && <Bounce payment={p} onChanged={payment.reload} />}
      {p.method === "stripe" && <Refunds payment={p} writer={writer} onChanged={payment.reload} />}
      <section aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        {history.data ? <History items={history.data.items} caption="What happened to this payment, newest first" currency={p.currency} /> : <Loading what="the history" />}
        <Pager next={history.data?.next_cursor} cursor={historyCursor} onPage={setHistoryCursor} label="Pages of history" />
      </section>
    </section>
  );
}

function Summary({ payment: p, writer, onChanged }: { payment: Payment; writer: boolean; onChanged: Reload }) {
  const [editing, setEditing] = useState(false);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  return (
    <section aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      {editing ? (
        <EditPayment payment={p} onDone={() => { setEditing(false); onChanged(); }} onCancel={() => setEditing(false)} />
      ) : (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>{label(STATUSES, p.status)}</dd>
            <dt>Amount</dt>
            <dd><Money amount={p.amount} currency={p.currency} /></dd>
            <dt>Allocated</dt>
            <dd><Money amount={p.allocated_amount} currency={p.currency} /></dd>
            <dt>Unallocated</dt>
            <dd><Money amount={p.unallocated_amount} currency={p.currency} /></dd>
            <dt>Received date</dt>
            <dd>{p.received_date}</dd>
            <dt>Method</dt>
            <dd>{label(METHODS, p.method)}</dd>
            <dt>Reference</dt>
            <dd>{p.reference ?? "—"}</dd>
            <dt>Invoice #</dt>
            <dd>{p.invoice_number ?? "—"}</dd>
            <dt>Remark</dt>
            <dd>{p.remark ?? "—"}</dd>
            {p.bounced_date && (
              <>
                <dt>Bounced</dt>
                <dd>{p.bounced_date}: {p.bounce_reason}</dd>
              </>
            )}
            <dt>Recorded by</dt>
            <dd>{p.created_by} at {p.created_at}</dd>
          </dl>
          {writer && (
            <div class="actions">
              <button type="button" class="secondary" aria-label="Edit payment" onClick={() => setEditing(true)}>
                <span aria-hidden="true">✎</span> Edit
              </button>
              {p.method !== "stripe" && <button
                type="button"
                class="danger"
                onClick={async () => {
                  if (!window.confirm("Delete this payment? Its history is kept.")) return;
                  try {
                    await call(api.DELETE("/payments/{payment_id}", { params: { path: { payment_id: p.id }, header: { "If-Match": String(p.version) } } }));
                    navigate("/payments");
                  } catch (error) {
                    setRefusal(error as ApiError);
                  }
                }}
              >
                Delete payment
              </button>}
            </div>
          )}
          <Refusal error={refusal} />
        </>
      )}
    </section>
  );
}

function EditPayment({ payment: p, onDone, onCancel }: { payment: Payment; onDone: () => void; onCancel: () => void }) {
  const [amount, setAmount] = useState(toInput(p.amount, p.currency));
  const [received, setReceived] = useState(p.received_date);
  const [method, setMethod] = useState(p.method);
  const [reference, setReference] = useState(p.reference ?? "");
  const [invoiceNumber, setInvoiceNumber] = useState(p.invoice_number ?? "");
  const [remark, setRemark] = useState(p.remark ?? "");
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [amountError, setAmountError] = useState<string | undefined>();
  const card = p.method === "stripe"; // Stripe's fields are shown, not editable

  async function save(event: Event) {
    event.preventDefault();
    const parsed = parseMoney(amount, p.currency);
    setAmountError(parsed.ok ? undefined : parsed.message);
    if (!parsed.ok) return;
    // Only what changed is sent: a card payment's amount, date, method and reference are Stripe's (the API refuses
    // them, and `method: "stripe"` always), while its remark and invoice number may change.
    const body: PaymentPatch = {};
    if (parsed.minor !== p.amount) body.amount = parsed.minor;
    if (received !== p.received_date) body.received_date = received;
    if (method !== p.method) body.method = method as NonNullable<PaymentPatch["method"]>;
    if ((reference.trim() || null) !== p.reference) body.reference = reference.trim() || null;
    if ((invoiceNumber.trim() || null) !== p.invoice_number) body.invoice_number = invoiceNumber.trim() || null;
    if ((remark.trim() || null) !== p.remark) body.remark = remark.trim() || null;
    try {
      await call(
        api.PATCH("/payments/{payment_id}", {
          params: { path: { payment_id: p.id }, header: { "If-Match": String(p.version) } },
          body,
        }),
      );
      onDone();
    } catch (error) {
      setRefusal(error as ApiError);
      setAmountError((error as ApiError).about?.("amount"));
    }
  }

  return (
    <form onSubmit={save} class="form" aria-label="Edit payment" noValidate>
      <Field label="Amount" inputMode="decimal" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} hint={`In ${p.currency}`} error={amountError} disabled={card} />
      <Field label="Received date" type="date" value={received} onInput={(e) => setReceived(e.currentTarget.value)} disabled={card} />
      <Select label="Method" value={method} onChange={(e) => setMethod(e.currentTarget.value as typeof method)} options={card ? [["stripe", "Card (Stripe)"]] : METHODS} disabled={card} />
      <Field label="Reference" value={reference} onInput={(e) => setReference(e.currentTarget.value)} disabled={card} />
      <Field label="Invoice #" value={invoiceNumber} onInput={(e) => setInvoiceNumber(e.currentTarget.value)} />
      <Field label="Remark" value={remark} onInput={(e) => setRemark(e.currentTarget.value)} />
      <Refusal error={refusal} />
      <div class="actions">
        <button type="submit">Save changes</button>
        <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function Assignment({ payment: p, writer, onChanged }: { payment: Payment; writer: boolean; onChanged: Reload }) {
  const orgs = useOrganizations();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState("");
  const [refusal, setRefusal] = useState<ApiError | string | null>(null);
  const current = p.org_id ? orgs.get(p.org_id) : undefined;

  async function assign(event: Event) {
    event.preventDefault();
    const org = byName(orgs, name);
    if (!org) return setRefusal("No organization has this name: pick one from the list.");
    try {
      await call(api.PUT("/payments/{payment_id}/assignment", { params: { path: { payment_id: p.id } }, body: { org_id: org.id } }));
      setRefusal(null);
      setEditing(false);
      onChanged();
    } catch (error) {
      setRefusal(error as ApiError);
    }
  }

  async function unassign() {
    try {
      await call(api.DELETE("/payments/{payment_id}/assignment", { params: { path: { payment_id: p.id } } }));
      setRefusal(null);
      onChanged();
    } catch (error) {
      setRefusal(error as ApiError);
    }
  }

  return (
    <section aria-labelledby="assigned-title">
      <h2 id="assigned-title">Assigned Organization</h2>
      <p>
        {p.org_id ? (
          <Link href={`/organizations/${p.org_id}`}>{current?.name ?? p.org_id}</Link>
        ) : (
          "Not assigned"
        )}{" "}
        <span class="hint">({p.assignment_edits_remaining} of 5 assignment edits left)</span>
      </p>
      {writer && !editing && (
        <div class="actions">
          <button type="button" class="secondary" aria-label="Edit Assigned Organization" onClick={() => setEditing(true)}>
            <span aria-hidden="true">✎</span> {p.org_id ? "Change" : "Assign"}
          </button>
          {p.org_id && p.method !== "stripe" && (
            <button type="button" class="secondary" onClick={unassign}>
              Un-assign
            </button>
          )}
        </div>
      )}
      {writer && editing && (
        <form onSubmit={assign} class="inline-form" aria-label="Assign organization">
          <OrganizationPicker label="Organization name" value={name} onInput={setName} currency={p.currency} required />
          <button type="submit">Assign</button>
          <button type="button" class="secondary" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      )}
      <Refusal error={refusal} />
    </section>
  );
}

interface Line {
  invoice: Invoice;
  selected: boolean;
  amount: string;
}

function Allocation({ payment: p, writer, onChanged }: { payment: Payment; writer: boolean; onChanged: Reload }) {
  const orgs = useOrganizations();
  const [orgName, setOrgName] = useState("");
  // the organizations are read after the first render: the search starts from the payment's own once they are
  const ownName = p.org_id ? orgs.get(p.org_id)?.name : undefined;
  useEffect(() => {
    if (ownName) setOrgName((typed) => typed || ownName);
  }, [ownName]);
  const [number, setNumber] = useState("");
  const [issuedFrom, setIssuedFrom] = useState("");
  const [issuedTo, setIssuedTo] = useState("");
  const [lines, setLines] = useState<Line[] | null>(null);
  const [refusal, setRefusal] = useState<ApiError | string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [key, setKey] = useState(newKey);

  async function search(event: Event) {
    event.preventDefault();
    setRefusal(null);
    try {
      const found = await call(
        api.GET("/invoices", {
          params: {
            query: {
              org_name: orgName.trim() || undefined,
              number: number.trim() || undefined,
              issued_from: issuedFrom || undefined,
              issued_to: issuedTo || undefined,
              limit: 50,
            },
          },
        }),
      );
      setLines(
        found.items
          .filter((i) => i.currency === p.currency && i.amount_due > 0 && i.status !== "void")
          .map((invoice) => ({ invoice, selected: false, amount: toInput(invoice.amount_due, invoice.currency) })),
      );
    } catch (error) {
      setRefusal(error as ApiError);
    }
  }

  async function allocate() {
    const chosen = (lines ?? []).filter((l) => l.selected);
    if (!chosen.length) return setRefusal("Select at least one invoice.");
    const amounts = chosen.map((l) => ({ line: l, parsed: parseMoney(l.amount, p.currency) }));
    const bad = amounts.find((a) => !a.parsed.ok);
    if (bad && !bad.parsed.ok) return setRefusal(`${bad.line.invoice.number}: ${bad.parsed.message}`);
    const orgIds = new Set(chosen.map((l) => l.invoice.org_id));
    if (orgIds.size > 1) return setRefusal("The invoices belong to different organizations: a payment is assigned to one.");
    const [orgId] = [...orgIds];
    try {
      if (!p.org_id && orgId) {
        await call(api.PUT("/payments/{payment_id}/assignment", { params: { path: { payment_id: p.id } }, body: { org_id: orgId } }));
      }
      await call(
        api.POST("/payments/{payment_id}/allocations", {
          params: { path: { payment_id: p.id }, header: { "Idempotency-Key": key } },
          body: { allocations: amounts.map(({ line, parsed }) => ({ invoice_id: line.invoice.id, amount: parsed.ok ? parsed.minor : 0 })) },
        }),
      );
      setKey(newKey());
      setRefusal(null);
      setLines(null);
      setDone(`Allocated to ${chosen.map((l) => l.invoice.number).join(", ")}.`);
      onChanged();
    } catch (error) {
      setRefusal(error as ApiError);
      onChanged();
    }
  }

  async function release(invoiceId: string) {
    try {
      await call(api.DELETE("/payments/{payment_id}/allocations/{invoice_id}", { params: { path: { payment_id: p.id, invoice_id: invoiceId } } }));
      setRefusal(null);
      onChanged();
    } catch (error) {
      setRefusal(error as ApiError);
    }
  }

  return (
    <section aria-labelledby="allocation-title">
      <h2 id="allocation-title">Allocation</h2>
      <table>
        <caption>Allocated from this payment</caption>
        <thead>
          <tr>
            <th scope="col">Invoice</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col">Allocated at</th>
            {writer && <th scope="col"><span class="visually-hidden">Actions</span></th>}
          </tr>
        </thead>
        <tbody>
          {p.allocations.length === 0 && (
            <tr>
              <td colSpan={writer ? 4 : 3}>Nothing allocated yet.</td>
            </tr>
          )}
          {p.allocations.map((a) => (
            <tr key={`${a.kind}-${a.invoice_id ?? a.allocated_at}`}>
              <td>
                {a.invoice_id ? <Link href={`/invoices/${a.invoice_id}`}>{a.invoice_number ?? a.invoice_id}</Link> : "Wallet top-up"}
              </td>
              <td class="num"><Money amount={a.amount} currency={p.currency} /></td>
              <td>{a.allocated_at}</td>
              {writer && (
                <td>
                  {a.invoice_id && (
                    <button type="button" class="secondary" aria-label={`Release ${a.invoice_number ?? a.invoice_id}`} onClick={() => release(a.invoice_id ?? "")}>
                      Release
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {done && <p role="status">{done}</p>}
      {writer && p.unallocated_amount > 0 && (
        <>
          <form onSubmit={search} class="filters" aria-label="Search invoices">
            <OrganizationPicker label="Organization name" value={orgName} onInput={setOrgName} currency={p.currency} />
            <Field label="Invoice number" value={number} onInput={(e) => setNumber(e.currentTarget.value)} />
            <Field label="Issued from" type="date" value={issuedFrom} onInput={(e) => setIssuedFrom(e.currentTarget.value)} />
            <Field label="Issued to" type="date" value={issuedTo} onInput={(e) => setIssuedTo(e.currentTarget.value)} />
            <div class="actions">
              <button type="submit" class="secondary">Search invoices</button>
            </div>
          </form>
          {lines && (
            <table>
              <caption>
                Open invoices in {p.currency} ({formatMoney(p.unallocated_amount, p.currency)} left to allocate)
              </caption>
              <thead>
                <tr>
                  <th scope="col">Select</th>
                  <th scope="col">Invoice</th>
                  <th scope="col">Organization</th>
                  <th scope="col">Issued</th>
                  <th scope="col" class="num">Due</th>
                  <th scope="col">Amount to allocate</th>
                </tr>
              </thead>
              <tbody>
                {lines.length === 0 && (
                  <tr>
                    <td colSpan={6}>No open invoice matches.</td>
                  </tr>
                )}
                {lines.map((line, index) => (
                  <tr key={line.invoice.id}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select ${line.invoice.number}`}
                        checked={line.selected}
                        onChange={(e) => {
                          const selected = e.currentTarget.checked;
                          setLines((all) => (all ?? []).map((l, i) => (i === index ? { ...l, selected } : l)));
                        }}
                      />
                    </td>
                    <td>{line.invoice.number}</td>
                    <td>{line.invoice.org_name}</td>
                    <td>{line.invoice.issued_date}</td>
                    <td class="num"><Money amount={line.invoice.amount_due} currency={line.invoice.currency} /></td>
                    <td>
                      <input
                        aria-label={`Amount for ${line.invoice.number}`}
                        inputMode="decimal"
                        value={line.amount}
                        onInput={(e) => {
                          const amount = e.currentTarget.value;
                          setLines((all) => (all ?? []).map((l, i) => (i === index ? { ...l, amount } : l)));
                        }}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {lines && lines.length > 0 && (
            <div class="actions">
              <button type="button" onClick={allocate}>Assign &amp; Allocate</button>
            </div>
          )}
        </>
      )}
      <Refusal error={refusal} />
    </section>
  );
}

function TopUp({ payment: p, onChanged }: { payment: Payment; onChanged: Reload }) {
  const [amount, setAmount] = useState("");
  const [amountError, setAmountError] = useState<string | undefined>();
  const [refusal, setRefusal] = useState<ApiError | string | null>(null);
  const [key, setKey] = useState(newKey);
  if (!p.org_id || p.unallocated_amount <= 0) return null;
  async function submit(event: Event) {
    event.preventDefault();
    const parsed = parseMoney(amount, p.currency);
    setAmountError(parsed.ok ? undefined : parsed.message);
    if (!parsed.ok) return;
    try {
      await call(api.POST("/payments/{payment_id}/top-ups", { params: { path: { payment_id: p.id }, header: { "Idempotency-Key": key } }, body: { amount: parsed.minor } }));
      setKey(newKey());
      setAmount("");
      setRefusal(null);
      onChanged();
    } catch (error) {
      setRefusal(error as ApiError);
    }
  }
  return (
    <section aria-labelledby="topup-title">
      <h2 id="topup-title">Top up the wallet</h2>
      <form onSubmit={submit} class="inline-form" aria-label="Top up the wallet" noValidate>
        <Field label="Top-up amount" inputMode="decimal" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} hint={`In ${p.currency}, from what is unallocated`} error={amountError} />
        <button type="submit">Top up wallet</button>
      </form>
      <Refusal error={refusal} />
    </section>
  );
}

function Bounce({ payment: p, onChanged }: { payment: Payment; onChanged: Reload }) {
  const [open, setOpen] = useState(false);
  const [date, setDate] = useState(new Date().toISOString().slice(0, 10));
  const [reason, setReason] = useState("");
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [key] = useState(newKey);
  if (p.method === "stripe") return null;
  if (!open) {
    return (
      <div class="actions">
        <button type="button" class="secondary" onClick={() => setOpen(true)}>
          Bounce payment…
        </button>
      </div>
    );
  }
  async function submit(event: Event) {
    event.preventDefault();
    try {
      await call(api.POST("/payments/{payment_id}/bounce", { params: { path: { payment_id: p.id }, header: { "Idempotency-Key": key } }, body: { bounced_date: date, reason } }));
      onChanged();
    } catch (error) {
      setRefusal(error as ApiError);
    }
  }
  return (
    <section aria-labelledby="bounce-title">
      <h2 id="bounce-title">Bounce payment</h2>
      <p>Releases every allocation and takes back what reached the wallet. It cannot be undone.</p>
      <form onSubmit={submit} class="inline-form" aria-label="Bounce payment">
        <Field label="Bounced date" type="date" value={date} onInput={(e) => setDate(e.currentTarget.value)} required />
        <Field label="Bounce reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} required />
        <button type="submit" class="danger">Bounce payment</button>
        <button type="button" class="secondary" onClick={() => setOpen(false)}>Cancel</button>
      </form>
      <Refusal error={refusal} />
    </section>
  );
}

function Refunds({ payment: p, writer, onChanged }: { payment: Payment; writer: boolean; onChanged: Reload }) {
  const refunds = useLoad(() => call(api.GET("/payments/{payment_id}/refunds", { params: { path: { payment_id: p.id } } })), [p.id, p.version]);
  const [amount, setAmount] = useState("");
  const [refusal, setRefusal] = useState<ApiError | string | null>(null);
  const [key, setKey] = useState(newKey);
  async function submit(event: Event) {
    event.preventDefault();
    const parsed = parseMoney(amount, p.currency);
    if (!parsed.ok) return setRefusal(parsed.message);
    try {
      await call(api.POST("/payments/{payment_id}/refunds", { params: { path: { payment_id: p.id }, header: { "Idempotency-Key": key } }, body: { amount: parsed.minor, reason: "requested_by_customer" } }));
      setKey(newKey());
      setRefusal(null);
      onChanged();
    } catch (error) {
      setRefusal(error as ApiError);
    }
  }
  return (
    <section aria-labelledby="refunds-title">
      <h2 id="refunds-title">Card refunds</h2>
      <table>
        <caption>Refunds of this card payment</caption>
        <thead>
          <tr>
            <th scope="col">Requested</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {(refunds.data?.items ?? []).map((r) => (
            <tr key={r.id}>
              <td>{r.created_at}</td>
              <td class="num"><Money amount={r.amount} currency={r.currency} /></td>
              <td>{r.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {writer && (
        <form onSubmit={submit} class="inline-form" aria-label="Refund" noValidate>
          <Field label="Refund amount" inputMode="decimal" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} hint={`In ${p.currency}`} />
          <button type="submit">Refund</button>
        </form>
      )}
      <Refusal error={refusal} />
    </section>
  );
}
