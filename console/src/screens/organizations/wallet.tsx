// The organization's prepaid wallet: its balance and what is held for card refunds, its ledger (append-only,
// newest first) and its withdrawals, with a writer's withdrawal of unspent credit.
import { useState } from "preact/hooks";
import { type ApiError, api, call, newKey, useLoad } from "../../api";
import { Field, Loading, Money, Notice, Pager, Refusal, Select } from "../../components";
import type { components } from "../../generated/api";
import { formatMoney, parseMoney } from "../../money";
import { LEDGER_TYPES, WITHDRAWAL_METHODS, label } from "./labels";
import { type SectionProps, usePaged } from "./paged";

type WithdrawalMethod = components["schemas"]["WithdrawalIn"]["method"];

export function Wallet({ orgId, version }: SectionProps) {
  const wallet = useLoad(
    () => call(api.GET("/organizations/{org_id}/wallet", { params: { path: { org_id: orgId } } })),
    [orgId, version],
  );
  const w = wallet.data;
  return (
    <section aria-labelledby="wallet-title">
      <h2 id="wallet-title">Wallet</h2>
      <Refusal error={wallet.error} />
      {!w ? (
        !wallet.error && <Loading what="the wallet" />
      ) : (
        <dl class="facts">
          <dt>Balance</dt>
          <dd>
            <Money amount={w.balance} currency={w.currency} />
          </dd>
          <dt>Refund held</dt>
          <dd>
            <Money amount={w.refund_held} currency={w.currency} />
          </dd>
          <dt>Available</dt>
          <dd>
            <Money amount={Math.max(0, w.balance - w.refund_held)} currency={w.currency} />
          </dd>
          <dt>Last change</dt>
          <dd>{w.updated_at}</dd>
        </dl>
      )}
    </section>
  );
}

export function Ledger({ orgId, currency, version }: SectionProps) {
  const page = usePaged(
    (cursor) =>
      call(
        api.GET("/organizations/{org_id}/wallet/transactions", {
          params: { path: { org_id: orgId }, query: { cursor, limit: 20 } },
        }),
      ),
    [orgId, version],
  );
  return (
    <section aria-labelledby="ledger-title">
      <h2 id="ledger-title">Ledger</h2>
      <Refusal error={page.error} />
      <table>
        <caption>Wallet entries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Type</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col" class="num">Balance after</th>
            <th scope="col">Reference</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.items.length === 0 && (
            <tr>
              <td colSpan={5}>No entries yet.</td>
            </tr>
          )}
          {page.data?.items.map((entry) => (
            <tr key={entry.id}>
              <td>{entry.created_at}</td>
              <td>{label(LEDGER_TYPES, entry.type)}</td>
              <td class="num">
                <Money amount={entry.amount} currency={currency} />
              </td>
              <td class="num">
                <Money amount={entry.balance_after} currency={currency} />
              </td>
              <td>{entry.reference ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager next={page.data?.next_cursor} cursor={page.cursor} onPage={page.setCursor} label="Pages of ledger" />
    </section>
  );
}

export function Withdrawals(props: SectionProps & { writer: boolean; onChanged: () => void }) {
  const { orgId, currency, version } = props;
  const page = usePaged(
    (cursor) =>
      call(
        api.GET("/organizations/{org_id}/wallet/withdrawals", {
          params: { path: { org_id: orgId }, query: { cursor, limit: 20 } },
        }),
      ),
    [orgId, version],
  );
  return (
    <section aria-labelledby="withdrawals-title">
      <h2 id="withdrawals-title">Withdrawals</h2>
      <Refusal error={page.error} />
      <table>
        <caption>Unspent credit paid back, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col">Method</th>
            <th scope="col">Reference</th>
            <th scope="col">Remark</th>
            <th scope="col">By</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.items.length === 0 && (
            <tr>
              <td colSpan={6}>No withdrawals yet.</td>
            </tr>
          )}
          {page.data?.items.map((w) => (
            <tr key={w.id}>
              <td>{w.created_at}</td>
              <td class="num">
                <Money amount={w.amount} currency={w.currency} />
              </td>
              <td>{label(WITHDRAWAL_METHODS, w.method)}</td>
              <td>{w.reference ?? "—"}</td>
              <td>{w.remark ?? "—"}</td>
              <td>{w.created_by}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager next={page.data?.next_cursor} cursor={page.cursor} onPage={page.setCursor} label="Pages of withdrawals" />
      {props.writer && <WithdrawalForm orgId={orgId} currency={currency} onChanged={props.onChanged} />}
    </section>
  );
}

const WITHDRAWAL_FIELDS = ["amount", "method", "reference", "remark"] as const;

function WithdrawalForm({ orgId, currency, onChanged }: { orgId: string; currency: string; onChanged: () => void }) {
  const [amount, setAmount] = useState("");
  const [method, setMethod] = useState<WithdrawalMethod>("telegraphic_transfer");
  const [reference, setReference] = useState("");
  const [remark, setRemark] = useState("");
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [key, setKey] = useState(newKey); // one per withdrawal: a retried submit withdraws once
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setRefusal(null);
    setDone(null);
    const parsed = parseMoney(amount, currency);
    setErrors({ amount: parsed.ok ? undefined : parsed.message });
    if (!parsed.ok) return;
    setBusy(true);
    try {
      const made = await call(
        api.POST("/organizations/{org_id}/wallet/withdrawals", {
          params: { path: { org_id: orgId }, header: { "Idempotency-Key": key } },
          body: { amount: parsed.minor, method, reference: reference.trim() || null, remark: remark.trim() || null },
        }),
      );
      setKey(newKey());
      setAmount("");
      setReference("");
      setRemark("");
      setDone(`Withdrew ${formatMoney(made.amount, made.currency)} from the wallet.`);
      onChanged();
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      setErrors(Object.fromEntries(WITHDRAWAL_FIELDS.map((field) => [field, refused.about(field)])));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} class="inline-form" aria-label="Withdraw from the wallet" noValidate>
      <Field
        label="Amount"
        inputMode="decimal"
        value={amount}
        onInput={(e) => setAmount(e.currentTarget.value)}
        hint={`In ${currency}, at most what is available`}
        error={errors["amount"]}
        required
      />
      <Select
        label="Method"
        value={method}
        onChange={(e) => setMethod(e.currentTarget.value as WithdrawalMethod)}
        options={WITHDRAWAL_METHODS}
        error={errors["method"]}
      />
      <Field label="Reference" value={reference} maxLength={200} onInput={(e) => setReference(e.currentTarget.value)} error={errors["reference"]} />
      <Field label="Remark" value={remark} maxLength={1000} onInput={(e) => setRemark(e.currentTarget.value)} error={errors["remark"]} />
      <button type="submit" disabled={busy}>
        Withdraw
      </button>
      <Refusal error={refusal} />
      {done && <Notice>{done}</Notice>}
    </form>
  );
}
