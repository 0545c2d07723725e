// The Partner settings tab (the partner's finance staff; a viewer reads, a finance-admin writes): the daily
// auto-credit limits of its master account and the webhook endpoints its own systems receive notices at, with a
// link to the delivery log.
import type { ScreenProps } from "../../app";
import { canWrite } from "../../session";
import { AutoCreditLimits } from "./limits";
import { WebhookEndpoints } from "./webhooks";

export function PartnerSettings({ session }: ScreenProps) {
  const writer = canWrite(session);
  return (
    <section aria-labelledby="partner-title">
      <h1 id="partner-title">Partner settings</h1>
      <p>
        Partner <strong>{session.partnerId}</strong>: what its master account gives automatically, and the notices its
        own systems receive.
      </p>
      <AutoCreditLimits partnerId={session.partnerId} writer={writer} />
      <WebhookEndpoints partnerId={session.partnerId} writer={writer} />
    </section>
  );
}
