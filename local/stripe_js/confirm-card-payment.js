/*
 * The local Stripe's Stripe.js, second part: local/stripe.py serves localstripe's own stand-in (localstripe-v3.js)
 * with this file after it, in one script. localstripe's confirmCardPayment ignores the card: it only answers 3-D
 * Secure for a card already on the PaymentIntent. Here it does what Stripe.js does with a card element:
 *
 *   1. the card typed into the element (localstripe's inputs number, exp_month, exp_year, cvc, postal_code) is
 *      checked as Stripe.js checks it before any request (a `validation_error`), then becomes a PaymentMethod:
 *      POST /v1/payment_methods (type=card, card[...], billing_details[address][postal_code]);
 *   2. the PaymentIntent is confirmed with it: POST /v1/payment_intents/{id}/confirm (client_secret, payment_method);
 *   3. when the card asks for 3-D Secure (`requires_action`), localstripe's modal asks, and its answer goes to
 *      POST /v1/payment_intents/{id}/_authenticate, as localstripe's confirmCardPayment does.
 *
 * Every request is authenticated as Stripe.js authenticates it: the publishable key as `key` in the form-encoded body
 * (the local Stripe accepts it for these calls only). The promise resolves as Stripe.js's does: {paymentIntent} when
 * the PaymentIntent no longer needs the customer, {error} otherwise, Stripe's error object (type, code, decline_code,
 * message, and the PaymentIntent as payment_intent when there is one). It uses localstripe's `Stripe`, `Element`,
 * `openModal` and `LOCALSTRIPE_BASE_API` (the same script's top-level declarations).
 */
(function () {
  const localstripeStripe = window.Stripe;

  // Stripe's form encoding of nested parameters: card[number]=4242..., billing_details[address][postal_code]=...
  function formEncoded(params) {
    const body = new URLSearchParams();
    (function add(prefix, value) {
      if (value === undefined || value === null || value === '') return;
      if (typeof value === 'object') {
        Object.entries(value).forEach(([k, v]) => add(prefix ? `${prefix}[${k}]` : k, v));
      } else {
        body.append(prefix, String(value));
      }
    })('', params);
    return body;
  }

  // One API request; resolves {body} or {error} (Stripe's error object, or one saying Stripe was not reached).
  async function post(path, params) {
    let response;
    try {
      response = await fetch(`${LOCALSTRIPE_BASE_API}${path}`, {method: 'POST', body: formEncoded(params)});
    } catch (err) {
      return {error: {type: 'api_connection_error',
                      message: 'An error occurred with our connection to Stripe. Request was retried 0 times.'}};
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || body.error) {
      return {error: body.error || {type: 'api_error', message: `Stripe answered ${response.status}.`}};
    }
    return {body};
  }

  function validationError(code, message) {
    return {error: {type: 'validation_error', code, message}};
  }

  function luhn(digits) {
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let d = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    return sum % 10 === 0;
  }

  // The card element's fields as Stripe.js reads its own: {card, postalCode} or {error} (Stripe.js's words).
  function readCard(element) {
    const inputs = element._inputs;
    if (!inputs) {
      throw new Error('We could not retrieve data from the specified Element. Please make sure the Element you are ' +
                      'attempting to use is still mounted.');
    }
    const number = inputs.number.value.replace(/\s+/g, '');
    const month = inputs.exp_month.value.trim();
    const year = inputs.exp_year.value.trim();
    const cvc = inputs.cvc.value.trim();
    if (!/^\d{16}$/.test(number)) {
      return /^\d{0,15}$/.test(number)
        ? validationError('incomplete_number', 'Your card number is incomplete.')
        : validationError('invalid_number', 'Your card number is invalid.');
    }
    if (!luhn(number)) return validationError('invalid_number', 'Your card number is invalid.');
    if (!/^\d{1,2}$/.test(month) || !/^(\d{2}|\d{4})$/.test(year)) {
      return validationError('incomplete_expiry', "Your card's expiration date is incomplete.");
    }
    const fullYear = year.length === 2 ? 2000 + Number(year) : Number(year);
    if (Number(month) < 1 || Number(month) > 12) {
      return validationError('invalid_expiry_month', "Your card's expiration date is invalid.");
    }
    const now = new Date();
    if (fullYear < now.getFullYear() || (fullYear === now.getFullYear() && Number(month) < now.getMonth() + 1)) {
      return validationError('invalid_expiry_year_past', "Your card's expiration year is in the past.");
    }
    if (!/^\d{3}$/.test(cvc)) {
      return validationError('incomplete_cvc', "Your card's security code is incomplete.");
    }
    return {card: {number, exp_month: month, exp_year: String(fullYear), cvc},
            postalCode: inputs.postal_code.value.trim()};
  }

  // A PaymentIntent the customer cannot go on with is an error for Stripe.js, its last_payment_error.
  function settled(intent) {
    if (intent.status === 'requires_payment_method' && intent.last_payment_error) {
      return {error: {...intent.last_payment_error, payment_intent: intent}};
    }
    return {paymentIntent: intent};
  }

  async function confirmCardPayment(apiKey, clientSecret, data) {
    console.log('localstripe: Stripe().confirmCardPayment() (local/stripe_js)');
    const match = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(typeof clientSecret === 'string' ? clientSecret : '');
    if (!match) {
      throw new Error('Invalid value for confirmCardPayment intent secret: value should be a client secret of the ' +
                      'form ${id}_secret_${secret}.');
    }
    const intentId = match[1];
    const given = (data || {}).payment_method;
    let paymentMethod;
    if (typeof given === 'string') {
      paymentMethod = given; // an existing PaymentMethod's id, as Stripe.js takes it
    } else if (given && given.card instanceof Element) {
      const read = readCard(given.card);
      if (read.error) return read;
      const billing = given.billing_details || {};
      const address = {...(billing.address || {})};
      address.postal_code = address.postal_code || read.postalCode;
      const created = await post('/v1/payment_methods', {
        key: apiKey, type: 'card', card: read.card, billing_details: {...billing, address}});
      if (created.error) return {error: created.error};
      paymentMethod = created.body.id;
    } else if (given !== undefined) {
      throw new Error('Invalid value for confirmCardPayment: payment_method should be a card Element or a ' +
                      'PaymentMethod id.');
    } // no payment_method: the PaymentIntent's own is confirmed, as Stripe.js does

    const confirmed = await post(`/v1/payment_intents/${intentId}/confirm`, {
      key: apiKey, client_secret: clientSecret, payment_method: paymentMethod});
    if (confirmed.error) return {error: confirmed.error};
    if (confirmed.body.status !== 'requires_action') return settled(confirmed.body);

    const success = await openModal('3D Secure\nDo you want to confirm or cancel?',
                                    'Complete authentication', 'Fail authentication');
    const authenticated = await post(`/v1/payment_intents/${intentId}/_authenticate?success=${success}`, {
      key: apiKey, client_secret: clientSecret});
    if (authenticated.error) return {error: authenticated.error};
    return settled(authenticated.body);
  }

  window.Stripe = function (apiKey, options) {
    const stripe = localstripeStripe(apiKey, options);
    stripe.confirmCardPayment = (clientSecret, data) => confirmCardPayment(apiKey, clientSecret, data);
    return stripe;
  };
})();
