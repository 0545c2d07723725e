// An organization (View <name>): its name and currency, the Wallet with its ledger and withdrawals, the Payment
// settings of the help article (the Stripe fields locked as it says), the online top-ups by card (and, for a
// writer, a new one with Stripe.js), the automatic top-up attempts and the History. Every section reads again
// after any write of the screen (a withdrawal moves the ledger, a top-up changes the settings).
import { useCallback, useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { api, call, useLoad } from "../../api";
import { History, Loading, Money, Pager, Refusal } from "../../components";
import { Link } from "../../router";
import { canWrite } from "../../session";
import { ATTEMPT_REASONS, ATTEMPT_STATUSES, SETTINGS_METHODS, label } from "./labels";
import { type SectionProps, usePaged } from "./paged";
import { PaymentSettings } from "./settings";
import { OnlineTopUps } from "./topup";
import { Ledger, Wallet, Withdrawals } from "./wallet";

export function OrganizationDetail({ session, params }: ScreenProps) {
  const id = params["orgId"] ?? "";
  const [version, setVersion] = useState(0);
  const changed = useCallback(() => setVersion((v) => v + 1), []);
  const org = useLoad(() => call(api.GET("/organizations/{org_id}", { params: { path: { org_id: id } } })), [id]);
  const writer = canWrite(session);
  const back = (
    <p>
      <Link href="/organizations">← Organizations</Link>
    </p>
  );
  if (org.error) {
    return (
      <section>
        {back}
        <Refusal error={org.error} />
      </section>
    );
  }
  if (!org.data) return <Loading what="the organization" />;
  const o = org.data;
  const section = { orgId: o.id, currency: o.currency, version };
  return (
    <section aria-labelledby="org-title">
      {back}
      <h1 id="org-title">{o.name}</h1>
      <dl class="facts">
        <dt>Currency</dt>
        <dd>{o.currency}</dd>
        <dt>Created</dt>
        <dd>{o.created_at}</dd>
        <dt>Id</dt>
        <dd>{o.id}</dd>
      </dl>
      <Wallet {...section} />
      <Ledger {...section} />
      <Withdrawals {...section} writer={writer} onChanged={changed} />
      <PaymentSettings {...section} writer={writer} onChanged={changed} />
      <OnlineTopUps {...section} writer={writer} onChanged={changed} />
      <AutoTopUps {...section} />
      <OrganizationHistory {...section} />
    </section>
  );
}

function AutoTopUps({ orgId, currency, version }: SectionProps) {
  const page = usePaged(
    (cursor) =>
      call(api.GET("/organizations/{org_id}/auto-top-ups", { params: { path: { org_id: orgId }, query: { cursor, limit: 20 } } })),
    [orgId, version],
  );
  return (
    <section aria-labelledby="attempts-title">
      <h2 id="attempts-title">Automatic top-up attempts</h2>
      <p class="hint">At most one a day: the daily run tops up when the wallet is at or below the limit threshold.</p>
      <Refusal error={page.error} />
      <table>
        <caption>Automatic top-up attempts, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Business date</th>
            <th scope="col">Payment method</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col">Status</th>
            <th scope="col">Reason</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.items.length === 0 && (
            <tr>
              <td colSpan={6}>No automatic top-up yet.</td>
            </tr>
          )}
          {page.data?.items.map((a) => (
            <tr key={`${a.business_date}-${a.created_at}`}>
              <td>{a.business_date}</td>
              <td>{label(SETTINGS_METHODS, a.method)}</td>
              <td class="num">
                <Money amount={a.amount} currency={currency} />
              </td>
              <td>{label(ATTEMPT_STATUSES, a.status)}</td>
              <td>
                {a.reason ? label(ATTEMPT_REASONS, a.reason) : "—"}
                {(a.failure_code || a.failure_message) && (
                  <>
                    <br />
                    <span class="hint">
                      {[a.failure_code, a.failure_message].filter(Boolean).join(": ")}
                    </span>
                  </>
                )}
              </td>
              <td>
                {a.invoice_id && <Link href={`/invoices/${a.invoice_id}`}>Top-up invoice</Link>}
                {a.payment_id && <Link href={`/payments/${a.payment_id}`}>Card payment</Link>}
                {!a.invoice_id && !a.payment_id && "—"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager next={page.data?.next_cursor} cursor={page.cursor} onPage={page.setCursor} label="Pages of automatic top-up attempts" />
    </section>
  );
}

function OrganizationHistory({ orgId, currency, version }: SectionProps) {
  const page = usePaged(
    (cursor) =>
      call(api.GET("/organizations/{org_id}/history", { params: { path: { org_id: orgId }, query: { cursor, limit: 50 } } })),
    [orgId, version],
  );
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <Refusal error={page.error} />
      {page.data ? (
        <History
          items={page.data.items}
          caption="What happened to this organization, its wallet and its settings, newest first"
          currency={currency}
        />
      ) : (
        !page.error && <Loading what="the history" />
      )}
      <Pager next={page.data?.next_cursor} cursor={page.cursor} onPage={page.setCursor} label="Pages of history" />
    </section>
  );
}
