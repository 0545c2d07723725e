// Payment settings, in the help article's words: Payment method, Trigger Amount, Limit Threshold,
// Enable/Disable Auto-trigger. "Online payment by Stripe" appears only once a customer topped up by card, and
// then its trigger amount and limit threshold are the ones chosen during that online top-up: shown locked here
// (the API refuses a change too, and its refusal is shown). Auto-trigger may still be switched, and another
// method chosen (which unlocks the amounts).
import { useId, useState } from "preact/hooks";
import { type ApiError, type Schemas, api, call, useLoad } from "../../api";
import { Field, Loading, Money, Notice, Refusal, Select } from "../../components";
import { parseMoney, toInput } from "../../money";
import { SETTINGS_METHODS, label } from "./labels";
import type { SectionProps } from "./paged";

type Settings = Schemas["SettingsOut"];
type Method = Settings["method"];

export const LOCKED_HINT =
  "Set during the online top-up by card: it cannot be changed here. Top up by card again, or choose another payment method.";

export function PaymentSettings(props: SectionProps & { writer: boolean; onChanged: () => void }) {
  const { orgId, currency, version, writer, onChanged } = props;
  const settings = useLoad(
    () => call(api.GET("/organizations/{org_id}/payment-settings", { params: { path: { org_id: orgId } } })),
    [orgId, version],
  );
  // "Saved" is said once the screen shows what was saved (the form is read again after a save: a choice made
  // before that read would be replaced by it)
  const [savedAt, setSavedAt] = useState<string | null>(null);
  const s = settings.data;
  return (
    <section aria-labelledby="settings-title">
      <h2 id="settings-title">Payment settings</h2>
      <Refusal error={settings.error} />
      {!s ? (
        !settings.error && <Loading what="the payment settings" />
      ) : writer ? (
        <SettingsForm
          key={s.updated_at}
          orgId={orgId}
          currency={currency}
          settings={s}
          onSaved={(updatedAt) => {
            setSavedAt(updatedAt);
            onChanged();
          }}
          onEdited={() => setSavedAt(null)}
        />
      ) : (
        <SettingsFacts settings={s} currency={currency} />
      )}
      {savedAt !== null && s?.updated_at === savedAt && !settings.loading && <Notice>Payment settings saved.</Notice>}
    </section>
  );
}

function SettingsFacts({ settings: s, currency }: { settings: Settings; currency: string }) {
  return (
    <dl class="facts">
      <dt>Payment method</dt>
      <dd>{label(SETTINGS_METHODS, s.method)}</dd>
      <dt>Trigger Amount</dt>
      <dd>
        <Money amount={s.trigger_amount} currency={currency} />
      </dd>
      <dt>Limit Threshold</dt>
      <dd>
        <Money amount={s.limit_threshold} currency={currency} />
      </dd>
      <dt>Auto-trigger</dt>
      <dd>{s.auto_trigger ? "Enabled" : "Disabled"}</dd>
      <dt>Last changed</dt>
      <dd>{s.updated_at}</dd>
    </dl>
  );
}

function SettingsForm(props: {
  orgId: string;
  currency: string;
  settings: Settings;
  onSaved: (updatedAt: string) => void;
  onEdited: () => void;
}) {
  const { orgId, currency, settings: current } = props;
  const [method, setMethod] = useState<Method>(current.method);
  const [trigger, setTrigger] = useState(toInput(current.trigger_amount, currency));
  const [threshold, setThreshold] = useState(toInput(current.limit_threshold, currency));
  const [auto, setAuto] = useState(current.auto_trigger);
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // "Online payment by Stripe" is offered only while it is the method: a card top-up sets it, never this form.
  const methods = SETTINGS_METHODS.filter(([value]) => value !== "stripe" || current.method === "stripe");
  const locked = method === "stripe";
  const autoHint = useId();

  function edited() {
    props.onEdited();
    setRefusal(null);
  }

  async function save(event: Event) {
    event.preventDefault();
    setRefusal(null);
    const triggerAmount = locked ? ({ ok: true, minor: current.trigger_amount } as const) : parseMoney(trigger, currency, { allowZero: true });
    const limit = locked ? ({ ok: true, minor: current.limit_threshold } as const) : parseMoney(threshold, currency, { allowZero: true });
    setErrors({
      trigger_amount: triggerAmount.ok ? undefined : triggerAmount.message,
      limit_threshold: limit.ok ? undefined : limit.message,
    });
    if (!triggerAmount.ok || !limit.ok) return;
    setBusy(true);
    try {
      const saved = await call(
        api.PUT("/organizations/{org_id}/payment-settings", {
          params: { path: { org_id: orgId } },
          body: { method, trigger_amount: triggerAmount.minor, limit_threshold: limit.minor, auto_trigger: auto },
        }),
      );
      setErrors({});
      props.onSaved(saved.updated_at);
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      setErrors({
        method: refused.about("method"),
        trigger_amount: refused.about("trigger_amount"),
        limit_threshold: refused.about("limit_threshold"),
      });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={save} class="form" aria-label="Payment settings" noValidate>
      <Select
        label="Payment method"
        value={method}
        onChange={(e) => {
          setMethod(e.currentTarget.value as Method);
          edited();
        }}
        options={methods}
        error={errors["method"]}
      />
      <Field
        label="Trigger Amount"
        inputMode="decimal"
        value={locked ? toInput(current.trigger_amount, currency) : trigger}
        disabled={locked}
        onInput={(e) => {
          setTrigger(e.currentTarget.value);
          edited();
        }}
        hint={locked ? LOCKED_HINT : `In ${currency}: the amount of each automatic top-up`}
        error={errors["trigger_amount"]}
      />
      <Field
        label="Limit Threshold"
        inputMode="decimal"
        value={locked ? toInput(current.limit_threshold, currency) : threshold}
        disabled={locked}
        onInput={(e) => {
          setThreshold(e.currentTarget.value);
          edited();
        }}
        hint={locked ? LOCKED_HINT : `In ${currency}: the top-up runs when the wallet is at or below it`}
        error={errors["limit_threshold"]}
      />
      <div class="field">
        <label>
          <input
            type="checkbox"
            checked={auto}
            aria-describedby={autoHint}
            onChange={(e) => {
              setAuto(e.currentTarget.checked);
              edited();
            }}
          />{" "}
          Enable/Disable Auto-trigger
        </label>
        <small id={autoHint} class="hint">
          At most one automatic top-up a day.
        </small>
      </div>
      <Refusal error={refusal} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          Save
        </button>
      </div>
    </form>
  );
}
