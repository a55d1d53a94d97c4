// The console's shell: routing, navigation, organization switcher, sign out.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, currentSession, onSession, signOut, switchOrganization } from "./api.js";
import { html, render, Link, navigate, useLocation, Loading, ErrorNote } from "./ui.js";
import { SignIn, SignUp, AcceptInvitation } from "./auth.js";
import { Home } from "./home.js";
import { WorkflowList, WorkflowNew, WorkflowEditor } from "./workflows.js";
import { TestPage } from "./test_page.js";
import { CallList } from "./calls.js";
import { CallPage } from "./call_page.js";
import { UsagePage } from "./usage.js";
import { BillingPage } from "./billing.js";
import { LivePage } from "./live.js";
import { SettingsPage } from "./settings.js";
import { CampaignList } from "./campaigns.js";
import { CampaignNew } from "./campaign_form.js";
import { CampaignPage } from "./campaign_page.js";
import { DoNotCallPage } from "./do_not_call.js";

const NAV = [
  ["/home", "Home"], ["/workflows", "Workflows"], ["/test", "Test"], ["/calls", "Calls"], ["/live", "Live"],
  ["/campaigns", "Campaigns"], ["/usage", "Usage"], ["/billing", "Billing"], ["/settings", "Settings"],
];
const PUBLIC = new Set(["/signin", "/signup", "/invitation"]);

function route(path, me) {
  const parts = path.split("?")[0].split("/").filter(Boolean);
  const [top, id, sub] = parts;
  switch (top) {
    case undefined: case "home": return html`<${Home} me=${me} />`;
    case "workflows":
      if (id === "new") return html`<${WorkflowNew} me=${me} />`;
      return id ? html`<${WorkflowEditor} key=${id} id=${id} me=${me} />` : html`<${WorkflowList} me=${me} />`;
    case "test": return html`<${TestPage} me=${me} />`;
    case "calls": return id ? html`<${CallPage} key=${id} id=${id} me=${me} />` : html`<${CallList} me=${me} />`;
    case "live": return html`<${LivePage} me=${me} />`;
    case "campaigns":
      if (id === "new") return html`<${CampaignNew} me=${me} />`;
      if (id === "do-not-call") return html`<${DoNotCallPage} me=${me} />`;
      return id ? html`<${CampaignPage} key=${id} id=${id} me=${me} />` : html`<${CampaignList} me=${me} />`;
    case "usage": return html`<${UsagePage} me=${me} />`;
    case "billing": return html`<${BillingPage} me=${me} />`;
    case "settings": return html`<${SettingsPage} tab=${id || "keys"} sub=${sub} me=${me} />`;
    default: return html`<p>No such page. <${Link} href="/home">Go home</${Link}>.</p>`;
  }
}

function Shell({ path }) {
  const [me, setMe] = useState(null);
  const [error, setError] = useState(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const [switchError, setSwitchError] = useState(null);
  const org = currentSession()?.organizationId;
  useEffect(() => {
    api("/api/v1/auth/me").then(setMe, setError);
  }, [org]);
  const firstPath = useRef(path);
  useEffect(() => {
    // After a client-side navigation, move focus to the new page's title (not on first load).
    setMenuOpen(false);
    if (path !== firstPath.current) { firstPath.current = null; document.getElementById("page-title")?.focus(); }
  }, [path]);
  if (error) return html`<main class="auth-page"><${ErrorNote} error=${error} /></main>`;
  if (!me) return html`<${Loading} what="Loading your account" />`;
  const top = "/" + (path.split("?")[0].split("/")[1] || "home");
  const onOrgChange = (event) => {
    const target = me.memberships.find((m) => m.organization_id === event.target.value);
    if (!target || target.organization_id === me.organization_id) return;
    setSwitchError(null);
    // The shell is keyed by the session's organization: it reloads for the new one.
    switchOrganization(target.organization_id).then(() => navigate("/home"), setSwitchError);
  };
  const membership = me.memberships.find((m) => m.organization_id === me.organization_id);
  return html`<a class="skip" href="#main">Skip to content</a>
  <div class="shell">
    <header class="sidebar ${menuOpen ? "open" : ""}">
      <div class="topline">
        <p class="brand">Switchboard</p>
        <button class="menu-toggle secondary" aria-expanded=${menuOpen} aria-controls="nav"
          onClick=${() => setMenuOpen(!menuOpen)}>Menu</button>
      </div>
      <nav aria-label="Console"><ul class="nav" id="nav">
        ${NAV.map(([href, label]) => html`<li><${Link} href=${href} aria-current=${top === href ? "page" : undefined}>${label}</${Link}></li>`)}
      </ul></nav>
      <div class="who">
        ${me.memberships.length > 1
          ? html`<label>Organization <select onChange=${onOrgChange} value=${me.organization_id}>
              ${me.memberships.map((m) => html`<option value=${m.organization_id}>${m.organization_name} (${m.role})</option>`)}
            </select></label>`
          : html`<span>${membership?.organization_name || "Organization"}</span>`}
        <span>${me.email} · <span data-testid="role">${me.role}</span></span>
        <button class="secondary" onClick=${() => signOut().then(() => navigate("/signin"))}>Sign out</button>
      </div>
    </header>
    <main class="content" id="main" tabindex="-1">
      <${ErrorNote} error=${switchError} />
      ${route(path, me)}
    </main>
  </div>`;
}

function App() {
  const path = useLocation();
  const [session, setSession] = useState(currentSession());
  useEffect(() => onSession(setSession), []);
  const bare = path.split("?")[0];
  useEffect(() => {
    if (!session && !PUBLIC.has(bare)) navigate(bare === "/" ? "/signin" : `/signin?next=${encodeURIComponent(path)}`, { replace: true });
    if (session && (bare === "/signin" || bare === "/signup" || bare === "/")) navigate("/home", { replace: true });
  }, [session, bare]);
  if (bare === "/signup") return html`<${SignUp} />`;
  if (bare === "/invitation") return html`<${AcceptInvitation} />`;
  if (!session) return html`<${SignIn} />`;
  return html`<${Shell} key=${session.organizationId} path=${path} />`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
