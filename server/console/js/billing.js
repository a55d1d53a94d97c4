// Billing: the plan, minutes this period against the included ones (and the projection),
// limits and features (GET /api/v1/billing), the plans on offer (GET /api/v1/plans); with
// Stripe configured (billing.payments), Checkout and Portal buttons and invoices (offered only
// when this server's OpenAPI has those routes, and only to admins, as the API's matrix says).
import { useState } from "preact/hooks";
import { api, serverHas } from "./api.js";
import { html, Link, Page, useLoad, ErrorNote, Loading, can, fmtDate, fmtNumber } from "./ui.js";

const has = (obj, key) => obj && Object.prototype.hasOwnProperty.call(obj, key) && obj[key] != null;

function Meter({ used, included, label }) {
  const max = Math.max(included || 0, used || 0, 1);
  return html`<div class="meter-wrap">
    <div class="meter" role="meter" aria-label=${label} aria-valuemin="0" aria-valuemax=${max} aria-valuenow=${used || 0}
      aria-valuetext=${`${fmtNumber(used)} of ${fmtNumber(included)} minutes`}>
      <span class=${used > included ? "over" : ""} style=${`width:${Math.min(100, ((used || 0) / max) * 100)}%`}></span></div>
  </div>`;
}

function Minutes({ billing }) {
  const m = billing.minutes || {};
  const period = billing.period || {};
  return html`<section class="panel" aria-labelledby="minutes-title">
    <h2 id="minutes-title" style="margin-top:0">Minutes this period</h2>
    ${has(period, "start") ? html`<p class="hint">${fmtDate(period.start)} – ${fmtDate(period.end)}</p>` : ""}
    <div class="cards">
      <div class="card"><div class="label">Used</div><div class="value" data-testid="minutes-used">${fmtNumber(m.used)}</div><div class="sub">of ${fmtNumber(m.included)} included</div></div>
      <div class="card"><div class="label">Remaining</div><div class="value">${fmtNumber(m.remaining)}</div></div>
      <div class="card"><div class="label">Projected</div><div class="value">${fmtNumber(m.projected)}</div><div class="sub">at the pace so far</div></div>
      <div class="card"><div class="label">Projected overage</div><div class="value">${fmtNumber(m.projected_overage)}</div><div class="sub">${billing.plan?.overage === "hard_cap" ? "calls stop at the included minutes" : "minutes billed past the included ones"}</div></div>
    </div>
    <${Meter} used=${m.used} included=${m.included} label="Minutes used this period" />
  </section>`;
}

function Limits({ billing }) {
  const l = billing.limits || {};
  const features = Object.entries(billing.features || {});
  return html`<div class="grid2">
    <section><h2>Limits</h2><dl class="kv">
      <dt>Concurrent calls</dt><dd>${fmtNumber(l.max_concurrent_calls)}${has(l, "plan_max_concurrent_calls") && l.plan_max_concurrent_calls !== l.max_concurrent_calls ? ` (plan: ${fmtNumber(l.plan_max_concurrent_calls)})` : ""}</dd>
      <dt>Workflows</dt><dd>${fmtNumber(l.workflows)} of ${fmtNumber(l.max_workflows)}</dd>
      <dt>Phone numbers</dt><dd>${fmtNumber(l.phone_numbers)} of ${fmtNumber(l.max_phone_numbers)}</dd>
    </dl></section>
    <section><h2>Features</h2>${features.length ? html`<ul class="features">${features.map(([name, on]) => html`<li><span class="badge ${on ? "ok" : ""}">${on ? "included" : "not included"}</span> ${name.replace(/_/g, " ")}</li>`)}</ul>` : html`<p class="hint">None listed.</p>`}</section>
  </div>`;
}

function Invoices() {
  const invoices = useLoad(() => api("/api/v1/billing/invoices?limit=12"), []);
  if (invoices.error) return html`<p class="hint">Invoices are not available: ${invoices.error.message}</p>`;
  if (!invoices.data) return html`<${Loading} />`;
  const items = invoices.data.data || [];
  if (!items.length) return html`<p class="hint">No invoices yet.</p>`;
  const money = (cents, currency) => new Intl.NumberFormat(undefined, { style: "currency", currency: (currency || "usd").toUpperCase() }).format((cents || 0) / 100);
  return html`<div class="table-wrap" tabindex="0"><table data-testid="invoices"><thead><tr><th scope="col">Date</th><th scope="col">Number</th><th scope="col">Status</th><th scope="col" class="num">Total</th><th scope="col">Invoice</th></tr></thead>
    <tbody>${items.map((i) => html`<tr><td>${fmtDate(i.created)}</td><td>${i.number || "–"}</td><td>${i.status || ""}</td><td class="num">${money(i.total, i.currency)}</td>
      <td>${i.hosted_invoice_url && /^https:\/\//.test(i.hosted_invoice_url) ? html`<a href=${i.hosted_invoice_url} rel="noopener noreferrer" target="_blank">View</a>` : ""}</td></tr>`)}</tbody></table></div>`;
}

export function BillingPage({ me }) {
  const billing = useLoad(() => api("/api/v1/billing"), []);
  const plans = useLoad(() => api("/api/v1/plans").catch(() => ({ plans: [] })), []);
  // Payment routes exist on this server (OpenAPI) and are configured (billing.payments).
  const routes = useLoad(async () => ({
    checkout: await serverHas("/api/v1/billing/checkout"),
    portal: await serverHas("/api/v1/billing/portal"),
    invoices: await serverHas("/api/v1/billing/invoices"),
  }), []);
  const paying = Boolean(billing.data?.payments);
  const stripe = { data: routes.data && billing.data && {
    checkout: paying && routes.data.checkout, portal: paying && routes.data.portal, invoices: paying && routes.data.invoices } };
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const admin = can.manage(me.role);
  const go = async (path, body) => {
    setBusy(true); setError(null);
    try {
      const { url } = await api(path, { method: "POST", body });
      if (!/^https:\/\//.test(url)) throw new Error("the payment provider answered without a secure URL");
      location.assign(url);
    } catch (e) { setError(e); setBusy(false); }
  };
  const b = billing.data;
  const current = b?.plan?.name;
  const subscription = b?.subscription;
  const actions = admin && stripe.data?.portal && subscription
    ? html`<button class="secondary" disabled=${busy} onClick=${() => go("/api/v1/billing/portal")}>Manage subscription</button>` : null;
  return html`<${Page} title="Billing" actions=${actions}>
    <${ErrorNote} error=${billing.error || error} />
    ${!b && !billing.error ? html`<${Loading} />` : ""}
    ${b && html`
      <dl class="kv panel">
        <dt>Plan</dt><dd data-testid="plan">${b.plan?.display_name || b.plan?.name || "–"}${b.plan?.description ? html` <span class="hint">${b.plan.description}</span>` : ""}</dd>
        <dt>Subscription</dt><dd>${subscription ? `${subscription.status}${subscription.current_period_end ? ` · renews ${fmtDate(subscription.current_period_end)}` : ""}${subscription.cancel_at_period_end ? " · ends at the period's end" : ""}` : "none"}</dd>
      </dl>
      ${b.plan && b.plan.allows_calls === false ? html`<div class="notice error" role="alert">This organization's plan does not allow calls. ${admin ? "Choose a plan below, or ask the operator." : "Ask an admin."}</div>` : ""}
      ${b.minutes ? html`<${Minutes} billing=${b} />` : ""}
      <${Limits} billing=${b} />`}
    ${plans.data?.plans?.length ? html`<h2>Plans</h2>
      <div class="cards plans">${plans.data.plans.map((p) => html`<div class="card" aria-label=${`Plan ${p.display_name}`}>
        <div class="label">${p.display_name}${p.name === current ? " · current" : ""}</div>
        <div class="value">${fmtNumber(p.included_minutes)} min</div>
        <div class="sub">${p.description || ""} ${p.overage === "hard_cap" ? "Hard cap." : "Overage billed."} Up to ${fmtNumber(p.max_concurrent_calls)} concurrent calls.</div>
        ${admin && stripe.data?.checkout && p.stripe_price_id && p.name !== current
          ? html`<button disabled=${busy} onClick=${() => go("/api/v1/billing/checkout", { plan: p.name })}>Choose ${p.display_name}</button>` : ""}
      </div>`)}</div>` : ""}
    ${stripe.data && !stripe.data.checkout ? html`<p class="hint">Payments are not configured on this server: plans are set by the operator (<code>switchboard set-plan</code>). The <${Link} href="/usage">Usage</${Link}> page shows what calls used and cost.</p>` : ""}
    ${admin && stripe.data?.invoices ? html`<h2>Invoices</h2><${Invoices} />` : ""}
  </${Page}>`;
}
