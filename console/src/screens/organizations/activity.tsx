// An organization's activity, shown on its screen (the partner's Organization Management) and on a customer's own
// tabs (Automatic top-up, History): the automatic top-up attempts and the organization's history.
import { History, Loading, Money, Pager, Refusal } from "../../components";
import { Link } from "../../router";
import { type Schemas, api, call } from "../../api";
import { ATTEMPT_REASONS, ATTEMPT_STATUSES, SETTINGS_METHODS, TOP_UP_MODES, label } from "./labels";
import { type SectionProps, usePaged } from "./paged";

/** The daily run's attempts; `partnerLinks` false (a customer's view): the card payment is named, not linked. */
export function AutoTopUps({ orgId, currency, version, partnerLinks = true }: SectionProps & { partnerLinks?: boolean }) {
  const page = usePaged(
    (cursor) =>
      call(api.GET("/organizations/{org_id}/auto-top-ups", { params: { path: { org_id: orgId }, query: { cursor, limit: 20 } } })),
    [orgId, version],
  );
  return (
    <section aria-labelledby="attempts-title">
      <h2 id="attempts-title">Automatic top-up attempts</h2>
      <p class="hint">
        At most one a day: the daily run tops up when the wallet is at or below the limit threshold. An attempt that
        does not top up says why.
      </p>
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
                <AmountNote attempt={a} currency={currency} />
              </td>
              <td>{label(ATTEMPT_STATUSES, a.status)}</td>
              <td>
                {a.reason ? label(ATTEMPT_REASONS, a.reason) : "—"}
                <StripeSaid attempt={a} />
              </td>
              <td>
                {a.invoice_id && <Link href={`/invoices/${a.invoice_id}`}>Top-up invoice</Link>}
                {a.payment_id &&
                  (partnerLinks ? <Link href={`/payments/${a.payment_id}`}>Card payment</Link> : "Card payment")}
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

type Attempt = Schemas["AttemptOut"];

/** How the amount came to be: the top-up mode, and what the monthly cap took off the amount asked for. */
function AmountNote({ attempt: a, currency }: { attempt: Attempt; currency: string }) {
  const reduced = a.requested_amount !== a.amount && a.requested_amount > 0;
  const capped = a.reason === "monthly_cap_reached" || (a.amount < a.requested_amount && !a.reason);
  return (
    <>
      {a.top_up_mode === "target" && (
        <>
          <br />
          <span class="hint">{label(TOP_UP_MODES, a.top_up_mode)}</span>
        </>
      )}
      {reduced && (
        <>
          <br />
          <span class="hint">
            asked <Money amount={a.requested_amount} currency={currency} />
            {capped ? ", reduced by the monthly cap" : ""}
          </span>
        </>
      )}
    </>
  );
}

/** What Stripe said of a card that did not pay: its decline code (or error code) and its message. */
function StripeSaid({ attempt: a }: { attempt: Attempt }) {
  if (!a.failure_code && !a.failure_message) return null;
  const codeName = a.reason === "card_declined" ? "Decline code" : "Stripe's code";
  return (
    <>
      {a.failure_code && (
        <>
          <br />
          <span class="hint">
            {codeName}: <code>{a.failure_code}</code>
          </span>
        </>
      )}
      {a.failure_message && (
        <>
          <br />
          <span class="hint">Stripe's message: {a.failure_message}</span>
        </>
      )}
    </>
  );
}

/** The organization's audit history, paged; `title` names the section (a customer's History tab: its h1). */
export function OrganizationHistory({ orgId, currency, version, title }: SectionProps & { title?: string }) {
  const page = usePaged(
    (cursor) =>
      call(api.GET("/organizations/{org_id}/history", { params: { path: { org_id: orgId }, query: { cursor, limit: 50 } } })),
    [orgId, version],
  );
  return (
    <section aria-labelledby="history-title">
      {title ? <h1 id="history-title">{title}</h1> : <h2 id="history-title">History</h2>}
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
