// Online top-ups by card: the organization's list (a declined card leaves a record a person can read), and a
// writer's new one: the amount, and the Trigger Amount, Limit Threshold and auto-trigger the Stripe method will
// have; POST answers a PaymentIntent's client_secret, Stripe.js confirms the card typed into its card element,
// then Stripe's webhook (about a second later) credits the wallet: the list is read until it is not pending.
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError, type Schemas, api, call, newKey } from "../../api";
import { Field, Money, Notice, Pager, Refusal, Select } from "../../components";
import { formatMoney, parseMoney } from "../../money";
import { Link } from "../../router";
import { TOP_UP_MODES, TOP_UP_STATUSES, label } from "./labels";
import { type SectionProps, usePaged } from "./paged";
import { type StripeCardElement, type StripeJs, loadStripe } from "./stripe";

type OnlineTopUp = Schemas["OnlineTopUpOut"];
type Mode = OnlineTopUp["top_up_mode"];

const POLL_EVERY_MS = 1000;
const POLL_FOR_MS = 30_000;

/** The organization's online top-ups; a writer may start one here. `partnerLinks` false (a customer's view): the
 * card payment is named, not linked (the Payments tab is the partner's). */
export function OnlineTopUps(props: SectionProps & { writer: boolean; onChanged: () => void; partnerLinks?: boolean }) {
  const { orgId, currency, version } = props;
  const [open, setOpen] = useState(false);
  const page = usePaged(
    (cursor) =>
      call(api.GET("/organizations/{org_id}/online-top-ups", { params: { path: { org_id: orgId }, query: { cursor, limit: 20 } } })),
    [orgId, version],
  );
  return (
    <section aria-labelledby="online-title">
      <h2 id="online-title">Online top-ups</h2>
      <Refusal error={page.error} />
      <table>
        <caption>Online top-ups by card, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Started</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col">Status</th>
            <th scope="col">Decline code</th>
            <th scope="col">Failure message</th>
            <th scope="col">Top-up mode</th>
            <th scope="col" class="num">Trigger Amount</th>
            <th scope="col" class="num">Limit Threshold</th>
            <th scope="col">Auto-trigger</th>
            <th scope="col">Payment</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.items.length === 0 && (
            <tr>
              <td colSpan={10}>No online top-up yet.</td>
            </tr>
          )}
          {page.data?.items.map((t) => (
            <tr key={t.id}>
              <td>{t.created_at}</td>
              <td class="num">
                <Money amount={t.amount} currency={t.currency} />
              </td>
              <td>{label(TOP_UP_STATUSES, t.status)}</td>
              <td>{t.decline_code ?? (t.status === "failed" ? (t.reason ?? "—") : "—")}</td>
              <td>{t.failure_message ?? "—"}</td>
              <td>
                {t.top_up_mode === "target" && t.target_balance !== null ? (
                  <>
                    Up to <Money amount={t.target_balance} currency={t.currency} />
                  </>
                ) : (
                  label(TOP_UP_MODES, t.top_up_mode)
                )}
              </td>
              <td class="num">
                <Money amount={t.trigger_amount} currency={t.currency} />
              </td>
              <td class="num">
                <Money amount={t.limit_threshold} currency={t.currency} />
              </td>
              <td>{t.auto_trigger ? "Enabled" : "Disabled"}</td>
              <td>
                {!t.payment_id ? "—" : props.partnerLinks === false ? "Card payment" : (
                  <Link href={`/payments/${t.payment_id}`}>Card payment</Link>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager next={page.data?.next_cursor} cursor={page.cursor} onPage={page.setCursor} label="Pages of online top-ups" />
      {props.writer &&
        (open ? (
          <CardTopUp orgId={orgId} currency={currency} onChanged={props.onChanged} onClose={() => setOpen(false)} />
        ) : (
          <div class="actions">
            <button type="button" onClick={() => setOpen(true)}>
              Top up by card
            </button>
          </div>
        ))}
    </section>
  );
}

type Phase = "idle" | "starting" | "confirming" | "waiting";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The card top-up form (Stripe.js's card element). `onClose` absent: the form is its screen's (a customer's Top
 * up by card tab) and offers no Close; `level` is its heading's. */
export function CardTopUp(props: {
  orgId: string;
  currency: string;
  onChanged: () => void;
  onClose?: () => void;
  level?: 2 | 3;
}) {
  const { orgId, currency } = props;
  const [amount, setAmount] = useState("");
  const [trigger, setTrigger] = useState("");
  const [threshold, setThreshold] = useState("");
  const [mode, setMode] = useState<Mode>("fixed");
  const [target, setTarget] = useState("");
  const [auto, setAuto] = useState(true);
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const [refusal, setRefusal] = useState<ApiError | string | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [phase, setPhase] = useState<Phase>("idle");
  const [key, setKey] = useState(newKey); // one per top-up: a retried submit answers the same PaymentIntent
  const [ready, setReady] = useState(false);
  const mountPoint = useRef<HTMLDivElement>(null);
  const stripe = useRef<StripeJs | null>(null);
  const card = useRef<StripeCardElement | null>(null);
  const live = useRef(true);
  const cardLabel = useId();

  useEffect(() => {
    live.current = true;
    loadStripe().then(
      (loaded) => {
        if (!live.current || !mountPoint.current) return;
        stripe.current = loaded;
        card.current = loaded.elements().create("card");
        card.current.mount(mountPoint.current);
        setReady(true);
      },
      (error: Error) => live.current && setRefusal(error.message),
    );
    return () => {
      live.current = false;
      card.current?.destroy();
      card.current = null;
    };
  }, []);

  // A new amount is a new top-up: the key of the last one would be refused with another body.
  function edit(set: (value: string) => void) {
    return (e: { currentTarget: HTMLInputElement }) => {
      set(e.currentTarget.value);
      setKey(newKey());
    };
  }

  async function waitForStripe(topUp: OnlineTopUp): Promise<OnlineTopUp> {
    const until = Date.now() + POLL_FOR_MS;
    let latest = topUp;
    while (live.current && latest.status === "pending" && Date.now() < until) {
      await sleep(POLL_EVERY_MS);
      const listed = await call(
        api.GET("/organizations/{org_id}/online-top-ups", { params: { path: { org_id: orgId }, query: { limit: 20 } } }),
      );
      latest = listed.items.find((t) => t.id === topUp.id) ?? latest;
    }
    return latest;
  }

  async function pay(event: Event) {
    event.preventDefault();
    setRefusal(null);
    setOutcome(null);
    const parsedAmount = parseMoney(amount, currency);
    // up to a target balance, the Trigger Amount is not used: left empty, it is 0
    const parsedTrigger =
      mode === "target" && trigger.trim() === "" ? ({ ok: true, minor: 0 } as const) : parseMoney(trigger, currency, { allowZero: true });
    const parsedThreshold = parseMoney(threshold, currency, { allowZero: true });
    const parsedTarget = mode === "target" ? parseMoney(target, currency, { allowZero: true }) : ({ ok: true, minor: null } as const);
    setErrors({
      amount: parsedAmount.ok ? undefined : parsedAmount.message,
      trigger_amount: parsedTrigger.ok ? undefined : parsedTrigger.message,
      limit_threshold: parsedThreshold.ok ? undefined : parsedThreshold.message,
      target_balance: parsedTarget.ok ? undefined : parsedTarget.message,
    });
    if (!parsedAmount.ok || !parsedTrigger.ok || !parsedThreshold.ok || !parsedTarget.ok) return;
    if (!stripe.current || !card.current) return setRefusal("The card form is still loading: try again in a moment.");
    setPhase("starting");
    try {
      const started = await call(
        api.POST("/organizations/{org_id}/online-top-ups", {
          params: { path: { org_id: orgId }, header: { "Idempotency-Key": key } },
          body: {
            amount: parsedAmount.minor,
            trigger_amount: parsedTrigger.minor,
            limit_threshold: parsedThreshold.minor,
            auto_trigger: auto,
            top_up_mode: mode,
            target_balance: parsedTarget.minor,
          },
        }),
      );
      props.onChanged(); // the pending top-up shows in the list
      if (!started.client_secret) throw new Error("Stripe gave no card payment to confirm: start again.");
      setPhase("confirming");
      const result = await stripe.current.confirmCardPayment(started.client_secret, {
        payment_method: { card: card.current },
      });
      setKey(newKey()); // the card was tried: another attempt is another top-up
      if (result.error) {
        const code = result.error.decline_code ?? result.error.code;
        setRefusal(`${result.error.message ?? "The card payment was not completed."}${code ? ` (${code})` : ""}`);
        props.onChanged();
        return;
      }
      const status = result.paymentIntent?.status;
      if (status !== "succeeded" && status !== "processing") {
        setRefusal(`The card payment was not completed${status ? ` (${status.replaceAll("_", " ")})` : ""}: try again.`);
        props.onChanged();
        return;
      }
      setPhase("waiting");
      const settled = await waitForStripe(started);
      if (!live.current) return;
      if (settled.status === "succeeded") {
        setOutcome(`Top-up succeeded: ${formatMoney(settled.amount, settled.currency)} credited to the wallet.`);
        setAmount("");
      } else if (settled.status === "failed") {
        setRefusal(
          `The card payment failed: ${settled.failure_message ?? settled.reason ?? "Stripe declined it"}${
            settled.decline_code ? ` (${settled.decline_code})` : ""
          }.`,
        );
      } else {
        setOutcome("Stripe has not confirmed the payment yet: the list below shows it once it does.");
      }
      props.onChanged();
    } catch (error) {
      if (error instanceof ApiError) {
        setRefusal(error);
        setErrors({
          amount: error.about("amount"),
          trigger_amount: error.about("trigger_amount"),
          limit_threshold: error.about("limit_threshold"),
          top_up_mode: error.about("top_up_mode"),
          target_balance: error.about("target_balance"),
        });
      } else {
        setRefusal((error as Error).message);
      }
    } finally {
      if (live.current) setPhase("idle");
    }
  }

  const busy = phase !== "idle";
  return (
    <form onSubmit={pay} class="form" aria-label="Online top-up by card" noValidate>
      {props.level === 2 ? <h2>Online top-up by card</h2> : <h3>Online top-up by card</h3>}
      <p class="hint">
        A successful top-up makes “Online payment by Stripe” the payment method, with the Top-up mode, Trigger Amount,
        Target balance, Limit Threshold and auto-trigger chosen here; the card is saved for the automatic top-ups.
      </p>
      <Field
        label="Top-up amount"
        inputMode="decimal"
        value={amount}
        onInput={edit(setAmount)}
        hint={`In ${currency}, charged to the card now`}
        error={errors["amount"]}
        required
      />
      <Select
        label="Top-up mode"
        value={mode}
        onChange={(e) => {
          setMode(e.currentTarget.value as Mode);
          setKey(newKey());
        }}
        options={TOP_UP_MODES}
        hint="Fixed amount: the card is charged the Trigger Amount. Up to a target balance: what brings the wallet to the Target balance."
        error={errors["top_up_mode"]}
      />
      <Field
        label="Trigger Amount"
        inputMode="decimal"
        value={trigger}
        onInput={edit(setTrigger)}
        hint={
          mode === "target"
            ? `In ${currency}: not used up to a target balance (empty is 0)`
            : `In ${currency}: charged to the saved card at each automatic top-up`
        }
        error={errors["trigger_amount"]}
        required={mode === "fixed"}
      />
      {mode === "target" && (
        <Field
          label="Target balance"
          inputMode="decimal"
          value={target}
          onInput={edit(setTarget)}
          hint={`In ${currency}: each automatic top-up charges the card what brings the wallet up to it; above the Limit Threshold`}
          error={errors["target_balance"]}
          required
        />
      )}
      <Field
        label="Limit Threshold"
        inputMode="decimal"
        value={threshold}
        onInput={edit(setThreshold)}
        hint={`In ${currency}: the automatic top-up runs when the wallet is at or below it`}
        error={errors["limit_threshold"]}
        required
      />
      <div class="field">
        <label>
          <input
            type="checkbox"
            checked={auto}
            onChange={(e) => {
              setAuto(e.currentTarget.checked);
              setKey(newKey());
            }}
          />{" "}
          Enable/Disable Auto-trigger
        </label>
      </div>
      <div class="field">
        <span id={cardLabel} class="field-name">
          Card
        </span>
        <div class="card-element" ref={mountPoint} role="group" aria-labelledby={cardLabel} />
        {!ready && !refusal && <small class="hint">Loading the card form…</small>}
      </div>
      <Refusal error={refusal} />
      {outcome && <Notice>{outcome}</Notice>}
      {phase === "waiting" && (
        <p class="hint" role="status">
          Card confirmed: waiting for Stripe to credit the wallet…
        </p>
      )}
      <div class="actions">
        <button type="submit" disabled={busy || !ready}>
          Pay by card
        </button>
        {props.onClose && (
          <button type="button" class="secondary" onClick={props.onClose} disabled={busy}>
            Close
          </button>
        )}
      </div>
    </form>
  );
}
