// The partner's daily auto-credit limits (`/partners/{partner_id}/auto-credit-limits`): what its master wallet may
// give its organizations automatically ("Issue from your master account") in one currency on one business date. A
// finance-admin sets (or changes) a currency's limit and removes one; everyone of the partner reads them.
import { useState } from "preact/hooks";
import { type ApiError, api, call } from "../../api";
import { Confirm, Field, Money, Notice, Pager, Refusal, Select } from "../../components";
import { MINOR_UNITS } from "../../generated/currencies";
import { formatMoney, parseMoney } from "../../money";
import { useOrganizations } from "../../orgs";
import { usePaged } from "../organizations/paged";

const CURRENCIES = Object.keys(MINOR_UNITS).sort();

export function AutoCreditLimits({ partnerId, writer }: { partnerId: string; writer: boolean }) {
  const [version, setVersion] = useState(0);
  const [said, setSaid] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const page = usePaged(
    (cursor) =>
      call(
        api.GET("/partners/{partner_id}/auto-credit-limits", {
          params: { path: { partner_id: partnerId }, query: { cursor, limit: 100 } },
        }),
      ),
    [partnerId, version],
  );

  async function remove(currency: string) {
    setSaid(null);
    setRefusal(null);
    try {
      await call(
        api.DELETE("/partners/{partner_id}/auto-credit-limits/{currency}", {
          params: { path: { partner_id: partnerId, currency } },
        }),
      );
      setSaid(`Removed the ${currency} daily limit: the master account's automatic credits in ${currency} are no longer limited.`);
      setVersion((v) => v + 1);
    } catch (error) {
      setRefusal(error as ApiError);
      throw error;
    }
  }

  return (
    <section aria-labelledby="limits-title">
      <h2 id="limits-title">Daily auto-credit limits</h2>
      <p class="hint">
        The most your master account gives all your organizations automatically (payment method “Issue from your master
        account”) in one currency on one day. An automatic top-up beyond it fails, and its organization's attempts say
        so. No limit: nothing but the master wallet's balance holds it.
      </p>
      <Refusal error={page.error} />
      <table>
        <caption>Daily limits by currency</caption>
        <thead>
          <tr>
            <th scope="col">Currency</th>
            <th scope="col" class="num">Daily limit</th>
            <th scope="col">Last changed</th>
            <th scope="col">By</th>
            {writer && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          {page.data?.items.length === 0 && (
            <tr>
              <td colSpan={writer ? 5 : 4}>No daily limit: automatic credits are not limited.</td>
            </tr>
          )}
          {page.data?.items.map((l) => (
            <tr key={l.currency}>
              <th scope="row">{l.currency}</th>
              <td class="num">
                <Money amount={l.daily_limit} currency={l.currency} />
              </td>
              <td>{l.updated_at}</td>
              <td>{l.updated_by}</td>
              {writer && (
                <td>
                  <Confirm
                    label="Remove"
                    name={`Remove ${l.currency} limit`}
                    question={`Remove the ${l.currency} daily limit of ${formatMoney(l.daily_limit, l.currency)}?`}
                    confirm="Yes, remove it"
                    onConfirm={() => remove(l.currency)}
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <Pager next={page.data?.next_cursor} cursor={page.cursor} onPage={page.setCursor} label="Pages of daily limits" />
      <Refusal error={refusal} />
      {said && <Notice>{said}</Notice>}
      {writer && (
        <LimitForm
          partnerId={partnerId}
          onSaved={(text) => {
            setRefusal(null);
            setSaid(text);
            setVersion((v) => v + 1);
          }}
          onEdited={() => setSaid(null)}
        />
      )}
    </section>
  );
}

function LimitForm(props: { partnerId: string; onSaved: (said: string) => void; onEdited: () => void }) {
  const orgs = useOrganizations();
  const first = [...orgs.values()].map((o) => o.currency).sort()[0];
  const [chosen, setChosen] = useState<string | null>(null); // null: the partner's first organization's currency
  const currency = chosen ?? first ?? "SGD";
  const [amount, setAmount] = useState("");
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function save(event: Event) {
    event.preventDefault();
    setRefusal(null);
    const parsed = parseMoney(amount, currency, { allowZero: true });
    setErrors({ daily_limit: parsed.ok ? undefined : parsed.message });
    if (!parsed.ok) return;
    setBusy(true);
    try {
      const saved = await call(
        api.PUT("/partners/{partner_id}/auto-credit-limits/{currency}", {
          params: { path: { partner_id: props.partnerId, currency } },
          body: { daily_limit: parsed.minor },
        }),
      );
      setAmount("");
      setErrors({});
      props.onSaved(`Saved: at most ${formatMoney(saved.daily_limit, saved.currency)} a day in ${saved.currency}.`);
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      setErrors({ currency: refused.about("currency"), daily_limit: refused.about("daily_limit") });
    } finally {
      setBusy(false);
    }
  }

  const edited = () => {
    setRefusal(null);
    props.onEdited();
  };
  return (
    <form class="inline-form" aria-label="Set a daily limit" onSubmit={save} noValidate>
      <Select
        label="Currency"
        value={currency}
        onChange={(e) => {
          setChosen(e.currentTarget.value);
          edited();
        }}
        options={CURRENCIES.map((c) => [c, c])}
        error={errors["currency"]}
      />
      <Field
        label="Daily limit"
        inputMode="decimal"
        value={amount}
        onInput={(e) => {
          setAmount(e.currentTarget.value);
          edited();
        }}
        hint={`In ${currency}; a currency's limit set again is changed`}
        error={errors["daily_limit"]}
        required
      />
      <div class="actions">
        <button type="submit" disabled={busy}>
          Set limit
        </button>
      </div>
      <Refusal error={refusal} />
    </form>
  );
}
