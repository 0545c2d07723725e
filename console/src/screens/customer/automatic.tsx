// A customer's Automatic top-up tab: their payment settings, read-only (the method, and the Top-up mode, Trigger
// Amount, Target balance and Limit Threshold chosen at their last online top-up by card; the monthly cap, the failures
// allowed and counted, and a switch-off by the system after them), and the daily run's attempts. While the method is
// "Online payment by Stripe" an org-admin may switch the automatic top-up on or off: a PUT of the same method and
// amounts with auto_trigger flipped (all the API lets a customer change). Any other method is the provider's to set.
import { useId, useState } from "preact/hooks";
import { type ApiError, type Schemas, api, call, useLoad } from "../../api";
import { Loading, Money, Notice, Refusal } from "../../components";
import { Link } from "../../router";
import { isOrgAdmin } from "../../session";
import { AutoTopUps } from "../organizations/activity";
import { SETTINGS_METHODS, label } from "../organizations/labels";
import { GuardrailFacts, SwitchedOff, autoTriggerText } from "../organizations/settings";
import type { CustomerScreenProps } from "./props";

type Settings = Schemas["SettingsOut"];

export const CHOSEN_HINT = "Chosen at your last online top-up by card: top up by card again to change it.";

export function AutomaticTopUp({ session, org }: CustomerScreenProps) {
  const [version, setVersion] = useState(0);
  const settings = useLoad(
    () => call(api.GET("/organizations/{org_id}/payment-settings", { params: { path: { org_id: org.id } } })),
    [org.id, version],
  );
  const admin = isOrgAdmin(session);
  const s = settings.data;
  return (
    <section aria-labelledby="automatic-title">
      <h1 id="automatic-title">Automatic top-up</h1>
      <section aria-labelledby="settings-title">
        <h2 id="settings-title">Payment settings</h2>
        <Refusal error={settings.error} />
        {!s ? (
          !settings.error && <Loading what="the payment settings" />
        ) : (
          <>
            <SwitchedOff settings={s} how={switchBackOn(s, admin)} />
            <SettingsFacts settings={s} currency={org.currency} />
            {s.method === "stripe" ? (
              admin ? (
                <AutoTriggerSwitch orgId={org.id} settings={s} onSaved={() => setVersion((v) => v + 1)} />
              ) : (
                <p class="hint">Your organization's admin may switch the automatic top-up on or off.</p>
              )
            ) : (
              <p>
                Your provider sets your automatic top-up until you top up by card
                {admin ? (
                  <>
                    : <Link href="/top-up">Top up by card</Link> to choose your own.
                  </>
                ) : (
                  "."
                )}
              </p>
            )}
          </>
        )}
      </section>
      <AutoTopUps orgId={org.id} currency={org.currency} version={version} partnerLinks={false} />
    </section>
  );
}

/** Who switches a stopped automatic top-up back on, in the customer's words. */
function switchBackOn(s: Settings, admin: boolean): string {
  if (s.method !== "stripe") return "Your provider switches it on again.";
  return admin
    ? "Check your card, then switch Enable/Disable Auto-trigger on below: that restarts it and clears the count."
    : "Your organization's admin switches it on again.";
}

function SettingsFacts({ settings: s, currency }: { settings: Settings; currency: string }) {
  const stripe = s.method === "stripe";
  return (
    <dl class="facts">
      <dt>Payment method</dt>
      <dd>{label(SETTINGS_METHODS, s.method)}</dd>
      <dt>Trigger Amount</dt>
      <dd>
        <Money amount={s.trigger_amount} currency={currency} />
        {stripe && <span class="hint"> ({CHOSEN_HINT})</span>}
      </dd>
      <dt>Limit Threshold</dt>
      <dd>
        <Money amount={s.limit_threshold} currency={currency} />
        {stripe && <span class="hint"> ({CHOSEN_HINT})</span>}
      </dd>
      <GuardrailFacts settings={s} currency={currency} chosenHint={stripe ? CHOSEN_HINT : undefined} />
      <dt>Auto-trigger</dt>
      <dd>{autoTriggerText(s)}</dd>
      <dt>Last changed</dt>
      <dd>{s.updated_at}</dd>
    </dl>
  );
}

/** The org-admin's switch: saved as soon as it is flipped (the same method and amounts, auto_trigger flipped). It
 * keeps what the PUT answered (the settings above are read again), so its "Saved" stays said; a refusal puts it
 * back as it was, with the API's words beside it. */
function AutoTriggerSwitch(props: { orgId: string; settings: Settings; onSaved: () => void }) {
  const [current, setCurrent] = useState(props.settings);
  const [on, setOn] = useState(props.settings.auto_trigger); // shown as switched while it is saved
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const hint = useId();

  async function flip(wanted: boolean) {
    setOn(wanted);
    setBusy(true);
    setRefusal(null);
    setSaved(null);
    try {
      const answer = await call(
        api.PUT("/organizations/{org_id}/payment-settings", {
          params: { path: { org_id: props.orgId } },
          body: {
            method: current.method,
            trigger_amount: current.trigger_amount,
            limit_threshold: current.limit_threshold,
            auto_trigger: wanted,
          },
        }),
      );
      setCurrent(answer);
      setOn(answer.auto_trigger);
      setSaved(`Saved: the automatic top-up is ${answer.auto_trigger ? "on" : "off"}.`);
      props.onSaved();
    } catch (error) {
      setOn(current.auto_trigger); // refused: as it was
      setRefusal(error as ApiError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="field">
      <label>
        <input
          type="checkbox"
          role="switch"
          checked={on}
          aria-disabled={busy ? "true" : undefined}
          onClick={(e) => busy && e.preventDefault()} // saving: not disabled, so keyboard focus stays on it
          aria-describedby={hint}
          onChange={(e) => void flip(e.currentTarget.checked)}
        />{" "}
        Enable/Disable Auto-trigger
      </label>
      <small id={hint} class="hint">
        Saved as soon as it is switched. When on, your card is charged the Trigger Amount when the wallet is at or
        below the Limit Threshold, at most once a day.
      </small>
      <Refusal error={refusal} />
      {saved && <Notice>{saved}</Notice>}
    </div>
  );
}
