// The words the partner's screens give the API's codes: notice types, delivery statuses, a delivery's last error.
import type { Schemas } from "../../api";

export type NoticeType = Schemas["WebhookEndpointIn"]["events"][number];
export type DeliveryStatus = Schemas["WebhookDeliveryOut"]["status"];

// Every notice type the API sends, in its order (the generated type checks each code is one)
export const NOTICE_TYPES: [NoticeType, string][] = [
  ["wallet.low_balance", "A wallet fell to or below its limit threshold"],
  ["auto_top_up.invoice_issued", "Automatic top-up: invoice issued"],
  ["auto_top_up.credited", "Automatic top-up: credited"],
  ["auto_top_up.failed", "Automatic top-up: failed"],
  ["auto_top_up.skipped", "Automatic top-up: skipped"],
  ["auto_top_up.disabled", "Automatic top-up: switched off after consecutive failures"],
  ["payment.bounced", "A payment bounced"],
  ["payment.refunded", "A card payment was refunded"],
  ["payment.disputed", "A card payment was disputed"],
];

export const DELIVERY_STATUSES: [DeliveryStatus, string][] = [
  ["pending", "Pending (being tried)"],
  ["delivered", "Delivered"],
  ["failed", "Failed (tries ended)"],
];

export function isDeliveryStatus(value: string | null): value is DeliveryStatus {
  return DELIVERY_STATUSES.some(([status]) => status === value);
}

const ERRORS: [string, string][] = [
  ["timeout", "no answer within 10 seconds"],
  ["connection_failed", "could not connect"],
  ["address_not_allowed", "the address is not allowed"],
  ["endpoint_deleted", "the endpoint was deleted"],
];

/** A delivery's last try in words: "HTTP 500", "no answer within 10 seconds", ... */
export function lastTry(statusCode: number | null, error: string | null): string {
  if (statusCode !== null) return `HTTP ${statusCode}`;
  if (!error) return "—";
  return ERRORS.find(([code]) => code === error)?.[1] ?? error.replaceAll("_", " ");
}
