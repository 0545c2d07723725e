// + New Payment: the article's fields (Customer name, Amount, Received date, Method, Reference, Invoice #,
// Remark). The customer is optional (a payment may be assigned later); its currency is the amount's.
import { useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { ApiError, api, call, newKey } from "../../api";
import { Field, Refusal, Select } from "../../components";
import { MINOR_UNITS } from "../../generated/currencies";
import { parseMoney } from "../../money";
import { OrganizationPicker, byName, useOrganizations } from "../../orgs";
import { Link, navigate } from "../../router";
import { canWrite } from "../../session";
import { METHODS } from "./labels";

const today = () => new Date().toISOString().slice(0, 10);

export function NewPayment({ session }: ScreenProps) {
  const orgs = useOrganizations();
  const [customer, setCustomer] = useState("");
  const [currency, setCurrency] = useState("SGD");
  const [amount, setAmount] = useState("");
  const [received, setReceived] = useState(today());
  const [method, setMethod] = useState("telegraphic_transfer");
  const [reference, setReference] = useState("");
  const [invoiceNumber, setInvoiceNumber] = useState("");
  const [remark, setRemark] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [key] = useState(newKey); // one key for this form: a retried submit records the payment once
  const [busy, setBusy] = useState(false);
  const org = byName(orgs, customer);
  const shownCurrency = org?.currency ?? currency;

  if (!canWrite(session)) return <p>Your role reads payments only: recording one needs finance-admin.</p>;

  async function submit(event: Event) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (customer.trim() && !org) found["customer"] = "No organization has this name: pick one from the list, or leave it empty.";
    const parsed = parseMoney(amount, shownCurrency);
    if (!parsed.ok) found["amount"] = parsed.message;
    setErrors(found);
    setRefusal(null);
    if (Object.keys(found).length || !parsed.ok) return;
    setBusy(true);
    try {
      const payment = await call(
        api.POST("/payments", {
          params: { header: { "Idempotency-Key": key } },
          body: {
            org_id: org?.id ?? null,
            amount: parsed.minor,
            currency: shownCurrency as "SGD",
            received_date: received,
            method: method as "cheque",
            reference: reference.trim() || null,
            invoice_number: invoiceNumber.trim() || null,
            remark: remark.trim() || null,
          },
        }),
      );
      navigate(`/payments/${payment.id}`);
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      const byField: Record<string, string> = {};
      for (const field of ["amount", "received_date", "method", "reference", "invoice_number", "remark", "currency", "org_id"]) {
        const message = refused.about?.(field);
        if (message) byField[field === "org_id" ? "customer" : field] = message;
      }
      setErrors(byField);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="new-payment-title">
      <p>
        <Link href="/payments">← Payments</Link>
      </p>
      <h1 id="new-payment-title">New Payment</h1>
      <form onSubmit={submit} class="form" aria-label="New Payment" noValidate>
        <OrganizationPicker label="Customer name" value={customer} onInput={setCustomer} error={errors["customer"]} />
        {!org && (
          <Select
            label="Currency"
            value={currency}
            onChange={(e) => setCurrency(e.currentTarget.value)}
            options={Object.keys(MINOR_UNITS).map((c): [string, string] => [c, c])}
            error={errors["currency"]}
          />
        )}
        <Field
          label="Amount"
          inputMode="decimal"
          value={amount}
          onInput={(e) => setAmount(e.currentTarget.value)}
          hint={`In ${shownCurrency}, e.g. 125.50`}
          error={errors["amount"]}
          required
        />
        <Field
          label="Received date"
          type="date"
          value={received}
          onInput={(e) => setReceived(e.currentTarget.value)}
          error={errors["received_date"]}
          required
        />
        <Select label="Method" value={method} onChange={(e) => setMethod(e.currentTarget.value)} options={METHODS} error={errors["method"]} />
        <Field label="Reference" value={reference} onInput={(e) => setReference(e.currentTarget.value)} error={errors["reference"]} />
        <Field label="Invoice #" value={invoiceNumber} onInput={(e) => setInvoiceNumber(e.currentTarget.value)} error={errors["invoice_number"]} />
        <Field label="Remark" value={remark} onInput={(e) => setRemark(e.currentTarget.value)} error={errors["remark"]} />
        <Refusal error={refusal} />
        <div class="actions sticky">
          <button type="submit" disabled={busy}>
            Save payment
          </button>
          <Link href="/payments" class="button secondary">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
