// Sign in, sign up, accept an invitation.
import { useState } from "preact/hooks";
import { signIn, signUp, acceptInvitation, currentSession, takeExpiredNotice } from "./api.js";
import { html, Link, ErrorNote, navigate, formData } from "./ui.js";

function AuthFrame({ title, children }) {
  document.title = `${title} · Switchboard`;
  return html`<main class="auth-page" id="main">
    <p class="brand">Switchboard</p>
    <div class="panel"><h1>${title}</h1>${children}</div>
  </main>`;
}

export function SignIn() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [expired] = useState(takeExpiredNotice);
  const submit = async (event) => {
    const data = formData(event);
    setBusy(true); setError(null);
    try {
      await signIn(data.email, data.password);
      navigate(new URLSearchParams(location.search).get("next") || "/home", { replace: true });
    } catch (e) { setError(e); setBusy(false); }
  };
  return html`<${AuthFrame} title="Sign in">
    ${expired ? html`<div class="notice warn" role="alert">Your session expired. Sign in again to continue.</div>` : ""}
    <form class="stack" onSubmit=${submit}>
      <label>Email <input name="email" type="email" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <${ErrorNote} error=${error} />
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
    <p>New here? <${Link} href="/signup">Create an account</${Link}></p>
  </${AuthFrame}>`;
}

function SignUpForm({ inviteToken }) {
  const [error, setError] = useState(null);
  const [pending, setPending] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    const data = formData(event);
    const body = { email: data.email, password: data.password };
    if (data.name) body.name = data.name;
    if (inviteToken) body.invite_token = inviteToken;
    else if (data.organization_name) body.organization_name = data.organization_name;
    setBusy(true); setError(null);
    try {
      const waiting = await signUp(body);
      if (waiting) { setPending(waiting.message); setBusy(false); } else navigate("/home", { replace: true });
    } catch (e) { setError(e); setBusy(false); }
  };
  return html`<form class="stack" onSubmit=${submit}>
    <label>Your name <input name="name" autocomplete="name" maxlength="200" /></label>
    <label>Email <input name="email" type="email" autocomplete="username" required /></label>
    <label>Password <span class="hint">At least 10 characters.</span>
      <input name="password" type="password" autocomplete="new-password" minlength="10" required /></label>
    ${inviteToken ? "" : html`<label>Organization name <span class="hint">Optional.</span>
      <input name="organization_name" maxlength="200" autocomplete="organization" /></label>`}
    <${ErrorNote} error=${error} />
    ${pending && html`<div class="notice" role="status">${pending} <${Link} href="/signin">Sign in</${Link}></div>`}
    <button type="submit" disabled=${busy}>${inviteToken ? "Create account and join" : "Create account"}</button>
  </form>`;
}

export function SignUp() {
  return html`<${AuthFrame} title="Create your account">
    <${SignUpForm} />
    <p>Already have an account? <${Link} href="/signin">Sign in</${Link}></p>
  </${AuthFrame}>`;
}

// /invitation#token=...: the token stays in the fragment, so it never reaches a server log.
// Signed in: accept it with this account. Signed out: sign up with it, or sign in and accept.
function JoinWithAccount({ token }) {
  const [error, setError] = useState(null);
  const [joined, setJoined] = useState(null);
  const session = currentSession();
  const signInAndAccept = async (event) => {
    const data = formData(event);
    setError(null);
    try {
      await signIn(data.email, data.password);
      const result = await acceptInvitation(token);
      await signIn(data.email, data.password, result.organization_id); // a token for the new organization
      navigate("/home", { replace: true });
    } catch (e) { setError(e); }
  };
  const accept = async () => {
    setError(null);
    try { setJoined(await acceptInvitation(token)); } catch (e) { setError(e); }
  };
  if (joined) {
    return html`<div class="notice" role="status">You joined as ${joined.role}. Pick the organization in the
      selector (it asks for your password once). <${Link} href="/home">Continue</${Link}></div>`;
  }
  if (session) {
    return html`<${ErrorNote} error=${error} />
      <button onClick=${accept}>Join with the account you are signed in with</button>`;
  }
  return html`<form class="stack" onSubmit=${signInAndAccept} aria-label="Sign in and join">
    <label>Email <input name="email" type="email" autocomplete="username" required /></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
    <${ErrorNote} error=${error} />
    <button type="submit">Sign in and join</button>
  </form>`;
}

export function AcceptInvitation() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  const [hasAccount, setHasAccount] = useState(Boolean(currentSession()));
  if (!token) {
    return html`<${AuthFrame} title="Accept an invitation">
      <p class="error" role="alert">This invitation link is incomplete: ask for a new one.</p>
    </${AuthFrame}>`;
  }
  return html`<${AuthFrame} title="Accept an invitation">
    <div class="row" role="group" aria-label="Do you have an account?" style="margin-bottom: 1rem">
      <label class="inline"><input type="radio" name="has" checked=${!hasAccount} onChange=${() => setHasAccount(false)} /> I am new here</label>
      <label class="inline"><input type="radio" name="has" checked=${hasAccount} onChange=${() => setHasAccount(true)} /> I already have an account</label>
    </div>
    ${hasAccount ? html`<${JoinWithAccount} token=${token} />` : html`<${SignUpForm} inviteToken=${token} />`}
  </${AuthFrame}>`;
}

