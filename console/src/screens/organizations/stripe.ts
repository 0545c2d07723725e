// Stripe.js, loaded when a card is first asked for: the <script src> the console's configuration names (locally
// the local Stripe's stand-in, deployed js.stripe.com), never an inline script. Only the surface used is typed.
import { loadConfig } from "../../config";

export interface StripeCardElement {
  mount(element: HTMLElement): void;
  destroy(): void;
}

export interface StripeElements {
  create(type: "card", options?: Record<string, unknown>): StripeCardElement;
}

export interface StripeError {
  message?: string;
  code?: string;
  decline_code?: string;
  type?: string;
}

export interface PaymentIntentResult {
  error?: StripeError | null;
  paymentIntent?: { id: string; status: string };
}

export interface StripeJs {
  elements(): StripeElements;
  confirmCardPayment(
    clientSecret: string,
    data: { payment_method: { card: StripeCardElement } },
  ): Promise<PaymentIntentResult>;
}

type StripeFactory = (publishableKey: string) => StripeJs;

declare global {
  interface Window {
    Stripe?: StripeFactory;
  }
}

let loading: Promise<StripeJs> | undefined;

function script(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const element = document.createElement("script");
    element.src = src;
    element.async = true;
    element.addEventListener("load", () => resolve());
    element.addEventListener("error", () => {
      element.remove();
      reject(new Error("Stripe.js could not be loaded: check the connection and try again."));
    });
    document.head.append(element);
  });
}

/** The Stripe object for the configured publishable key, Stripe.js loaded once per page. */
export function loadStripe(): Promise<StripeJs> {
  loading ??= (async () => {
    const config = await loadConfig();
    if (!window.Stripe) await script(config.stripe.js_url);
    const factory = window.Stripe;
    if (!factory) throw new Error("Stripe.js did not start: card payments are not available.");
    return factory(config.stripe.publishable_key);
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}
