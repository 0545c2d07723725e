// Payment settings, in the help article's words: Payment method, Trigger Amount, Limit Threshold,
// Enable/Disable Auto-trigger; and the automatic top-up's guardrails: Top-up mode (a fixed amount, or up to a Target
// balance), Monthly cap and Max consecutive failures, with the failures counted so far and, when the system switched
// the automatic top-up off after them, that state and how to switch it back on. "Online payment by Stripe" appears
// only once a customer topped up by card, and then its trigger amount, limit threshold, top-up mode and target
// balance are the ones chosen during that online top-up: shown locked here (the API refuses a change too, and its
// refusal is shown). Auto-trigger, the monthly cap and the failures allowed may still be changed, and another method
// chosen (which unlocks the amounts).
import { useId, useState } from "preact/hooks";
import { type ApiError, type Schemas, api, call, useLoad } from "../../api";
import { Field, Loading, Money, Notice, Refusal, Select } from "../../components";
import { parseMoney, toInput } from "../../money";
import { SETTINGS_METHODS, TOP_UP_MODES, label } from "./labels";
import type { SectionProps } from "./paged";

type Settings = Schemas["SettingsOut"];
type Method = Settings["method"];
type Mode = Settings["top_up_mode"];

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
      {s && writer && (
        <SwitchedOff
          settings={s}
          how="Fix the cause (see the attempts below), then tick Enable/Disable Auto-trigger and Save: switching it on again clears the count."
        />
      )}
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
      {s && !writer && <SwitchedOff settings={s} how="A finance admin switches Auto-trigger on again to restart it." />}
      {savedAt !== null && s?.updated_at === savedAt && !settings.loading && <Notice>Payment settings saved.</Notice>}
    </section>
  );
}

/** The system switched the automatic top-up off after its consecutive failures: said where it cannot be missed
 * (above the settings), with `how` it is switched back on. Nothing while it was not the system. */
export function SwitchedOff({ settings: s, how }: { settings: Settings; how: string }) {
  const id = useId();
  if (s.disabled_reason !== "consecutive_failures") return null;
  return (
    <div class="warning" role="region" aria-labelledby={id}>
      <p id={id} class="warning-title">
        Automatic top-up switched off after {s.consecutive_failures} failed{" "}
        {s.consecutive_failures === 1 ? "attempt" : "attempts"} in a row
      </p>
      <p>
        The system stopped it when the failures reached the maximum allowed ({s.max_consecutive_failures}). No
        automatic top-up runs until it is switched on again. {how}
      </p>
    </div>
  );
}

/** The guardrails as facts (a reader's, and a customer's view): mode, target, cap, failures. */
export function GuardrailFacts({ settings: s, currency, chosenHint }: { settings: Settings; currency: string; chosenHint?: string }) {
  return (
    <>
      <dt>Top-up mode</dt>
      <dd>
        {label(TOP_UP_MODES, s.top_up_mode)}
        {chosenHint && <span class="hint"> ({chosenHint})</span>}
      </dd>
      {s.top_up_mode === "target" && (
        <>
          <dt>Target balance</dt>
          <dd>{s.target_balance === null ? "—" : <Money amount={s.target_balance} currency={currency} />}</dd>
        </>
      )}
      <dt>Monthly cap</dt>
      <dd>{s.monthly_cap === null ? "None" : <Money amount={s.monthly_cap} currency={currency} />}</dd>
      <dt>Max consecutive failures</dt>
      <dd>{s.max_consecutive_failures}</dd>
      <dt>Consecutive failures</dt>
      <dd>{s.consecutive_failures}</dd>
    </>
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
      <GuardrailFacts settings={s} currency={currency} />
      <dt>Auto-trigger</dt>
      <dd>{autoTriggerText(s)}</dd>
      <dt>Last changed</dt>
      <dd>{s.updated_at}</dd>
    </dl>
  );
}

export function autoTriggerText(s: Settings): string {
  if (s.auto_trigger) return "Enabled";
  return s.disabled_reason === "consecutive_failures" ? "Disabled by the system after consecutive failures" : "Disabled";
}

/** An optional amount: empty is none (null), anything else an amount above zero. */
function parseOptional(typed: string, currency: string) {
  return typed.trim() === "" ? ({ ok: true, minor: null } as const) : parseMoney(typed, currency, { allowZero: true });
}

const FIELDS = ["method", "trigger_amount", "limit_threshold", "top_up_mode", "target_balance", "monthly_cap",
  "max_consecutive_failures", "auto_trigger"] as const;

// A 409's rule, beside the field that caused it (the API names no field for these)
const CONFLICT_FIELD: Record<string, string> = {
  stripe_set_by_online_top_up: "method",
  stripe_settings_locked: "trigger_amount",
};

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
  const [mode, setMode] = useState<Mode>(current.top_up_mode);
  const [target, setTarget] = useState(current.target_balance === null ? "" : toInput(current.target_balance, currency));
  const [cap, setCap] = useState(current.monthly_cap === null ? "" : toInput(current.monthly_cap, currency));
  const [maxFailures, setMaxFailures] = useState(String(current.max_consecutive_failures));
  const [auto, setAuto] = useState(current.auto_trigger);
  const [errors, setErrors] = useState<Record<string, string | undefined>>({});
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // "Online payment by Stripe" is offered only while it is the method: a card top-up sets it, never this form.
  const methods = SETTINGS_METHODS.filter(([value]) => value !== "stripe" || current.method === "stripe");
  const locked = method === "stripe";
  const autoHint = useId();
  const shownMode = locked ? current.top_up_mode : mode;

  function edited() {
    props.onEdited();
    setRefusal(null);
  }

  function typed(set: (value: string) => void) {
    return (e: { currentTarget: HTMLInputElement }) => {
      set(e.currentTarget.value);
      edited();
    };
  }

  async function save(event: Event) {
    event.preventDefault();
    setRefusal(null);
    const kept = (minor: number) => ({ ok: true, minor }) as const;
    const triggerAmount = locked ? kept(current.trigger_amount) : parseMoney(trigger, currency, { allowZero: true });
    const limit = locked ? kept(current.limit_threshold) : parseMoney(threshold, currency, { allowZero: true });
    const targetBalance =
      locked || shownMode === "fixed" ? ({ ok: true, minor: current.target_balance } as const) : parseOptional(target, currency);
    const monthlyCap = parseOptional(cap, currency);
    const failures = /^\s*\d{1,2}\s*$/.test(maxFailures) ? Number(maxFailures) : null;
    setErrors({
      trigger_amount: triggerAmount.ok ? undefined : triggerAmount.message,
      limit_threshold: limit.ok ? undefined : limit.message,
      target_balance: targetBalance.ok ? undefined : targetBalance.message,
      monthly_cap: monthlyCap.ok ? undefined : monthlyCap.message,
      max_consecutive_failures: failures === null ? "Enter a whole number from 1 to 10." : undefined,
    });
    if (!triggerAmount.ok || !limit.ok || !targetBalance.ok || !monthlyCap.ok || failures === null) return;
    setBusy(true);
    try {
      const saved = await call(
        api.PUT("/organizations/{org_id}/payment-settings", {
          params: { path: { org_id: orgId } },
          body: {
            method,
            trigger_amount: triggerAmount.minor,
            limit_threshold: limit.minor,
            auto_trigger: auto,
            top_up_mode: shownMode,
            // fixed mode keeps the target it had (unused); locked: the online top-up's
            target_balance: targetBalance.minor,
            monthly_cap: monthlyCap.minor,
            max_consecutive_failures: failures,
          },
        }),
      );
      setErrors({});
      props.onSaved(saved.updated_at);
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      const next: Record<string, string | undefined> = {};
      for (const field of FIELDS) next[field] = refused.about(field);
      const conflict = CONFLICT_FIELD[refused.code];
      if (conflict && !next[conflict]) next[conflict] = refused.message;
      setErrors(next);
    } finally {
      setBusy(false);
    }
  }

  const inCurrency = (what: string) => `In ${currency}: ${what}`;
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
      <Select
        label="Top-up mode"
        value={shownMode}
        disabled={locked}
        onChange={(e) => {
          setMode(e.currentTarget.value as Mode);
          edited();
        }}
        options={TOP_UP_MODES}
        hint={
          locked
            ? LOCKED_HINT
            : "Fixed amount: each top-up adds the Trigger Amount. Up to a target balance: each top-up adds what brings the wallet to the Target balance."
        }
        error={errors["top_up_mode"]}
      />
      <Field
        label="Trigger Amount"
        inputMode="decimal"
        value={locked ? toInput(current.trigger_amount, currency) : trigger}
        disabled={locked}
        onInput={typed(setTrigger)}
        hint={
          locked
            ? LOCKED_HINT
            : shownMode === "target"
              ? inCurrency("not used while the top-up mode is up to a target balance (may be 0)")
              : inCurrency("the amount of each automatic top-up")
        }
        error={errors["trigger_amount"]}
      />
      {shownMode === "target" && (
        <Field
          label="Target balance"
          inputMode="decimal"
          value={locked ? (current.target_balance === null ? "" : toInput(current.target_balance, currency)) : target}
          disabled={locked}
          onInput={typed(setTarget)}
          hint={locked ? LOCKED_HINT : inCurrency("each top-up brings the wallet up to it; above the Limit Threshold")}
          error={errors["target_balance"]}
        />
      )}
      <Field
        label="Limit Threshold"
        inputMode="decimal"
        value={locked ? toInput(current.limit_threshold, currency) : threshold}
        disabled={locked}
        onInput={typed(setThreshold)}
        hint={locked ? LOCKED_HINT : inCurrency("the top-up runs when the wallet is at or below it")}
        error={errors["limit_threshold"]}
      />
      <Field
        label="Monthly cap"
        inputMode="decimal"
        value={cap}
        onInput={typed(setCap)}
        hint={inCurrency(
          "the most the automatic top-ups may add in one calendar month; a top-up is reduced to what is left. Empty: no cap.",
        )}
        error={errors["monthly_cap"]}
      />
      <Field
        label="Max consecutive failures"
        type="number"
        min={1}
        max={10}
        step={1}
        value={maxFailures}
        onInput={typed(setMaxFailures)}
        hint={`1 to 10: after that many failed attempts in a row the system switches Auto-trigger off. Failed so far: ${current.consecutive_failures}.`}
        error={errors["max_consecutive_failures"]}
      />
      <div class="field">
        <label>
          <input
            type="checkbox"
            checked={auto}
            aria-describedby={errors["auto_trigger"] ? `${autoHint} ${autoHint}-error` : autoHint}
            aria-invalid={errors["auto_trigger"] ? "true" : undefined}
            onChange={(e) => {
              setAuto(e.currentTarget.checked);
              edited();
            }}
          />{" "}
          Enable/Disable Auto-trigger
        </label>
        <small id={autoHint} class="hint">
          At most one automatic top-up a day.
          {current.disabled_reason === "consecutive_failures" &&
            " Switched off by the system: ticking it and saving switches it on again and clears the failure count."}
        </small>
        {errors["auto_trigger"] && (
          <small id={`${autoHint}-error`} class="field-error">
            {errors["auto_trigger"]}
          </small>
        )}
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
