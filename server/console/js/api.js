// The API client: bearer tokens kept in sessionStorage (this tab only), a quiet refresh a
// minute before the access token expires (and once on a 401), and a "session expired"
// notice when the refresh token is no longer accepted.
const KEY = "sb_console_session";
const listeners = new Set();
let session = load();
let refreshTimer = null;
let refreshing = null;

function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch (_) { return null; }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(session);
}

export function onSession(fn) { listeners.add(fn); return () => listeners.delete(fn); }
export function currentSession() { return session; }

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }
}

function fromTokens(tokens) {
  return {
    access: tokens.access_token, refresh: tokens.refresh_token,
    expiresAt: Date.now() + tokens.expires_in * 1000,
    organizationId: tokens.organization_id, userId: tokens.user_id, role: tokens.role,
  };
}

function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const wait = Math.max(5_000, session.expiresAt - Date.now() - 60_000);
  refreshTimer = setTimeout(() => { refreshNow().catch(() => {}); }, wait);
}

export async function refreshNow() {
  if (!session) throw new ApiError(401, "unauthorized", "not signed in");
  if (!refreshing) {
    const token = session.refresh;
    refreshing = raw("/api/v1/auth/refresh", { method: "POST", body: { refresh_token: token } })
      .then((tokens) => { save(fromTokens(tokens)); })
      .catch((error) => { expire(); throw error; })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

function expire() {
  sessionStorage.setItem("sb_console_expired", "1");
  save(null);
}

export function takeExpiredNotice() {
  const expired = sessionStorage.getItem("sb_console_expired") === "1";
  sessionStorage.removeItem("sb_console_expired");
  return expired;
}

// ``body``: a value sent as JSON, or a Blob/File sent as is with ``contentType`` (an upload).
async function raw(path, { method = "GET", body, token, blob = false, contentType } = {}) {
  const headers = {};
  const upload = body instanceof Blob;
  if (body !== undefined) headers["Content-Type"] = upload ? contentType || body.type || "application/octet-stream" : "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { method, headers, body: body === undefined || upload ? body : JSON.stringify(body) });
  if (!response.ok) {
    let error = { code: "http_" + response.status, message: response.statusText || `HTTP ${response.status}`, details: [] };
    try { error = { ...error, ...((await response.json()).error || {}) }; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, error.code, error.message, error.details);
  }
  if (response.status === 204) return null;
  return blob ? response.blob() : response.json();
}

// An authenticated request; on a 401 refresh once and retry.
export async function api(path, options = {}) {
  if (!session) throw new ApiError(401, "unauthorized", "not signed in");
  try {
    return await raw(path, { ...options, token: session.access });
  } catch (error) {
    if (error.status !== 401) throw error;
    await refreshNow();
    return raw(path, { ...options, token: session.access });
  }
}

// A streamed response (Server-Sent Events) with this session's token; refreshes once on a 401.
// EventSource cannot send an Authorization header, so the Live page reads the stream itself.
export async function openStream(path, signal) {
  if (!session) throw new ApiError(401, "unauthorized", "not signed in");
  const get = () => fetch(path, { headers: { Authorization: `Bearer ${session.access}`, Accept: "text/event-stream" }, signal });
  let response = await get();
  if (response.status === 401) { await refreshNow(); response = await get(); }
  if (!response.ok) throw new ApiError(response.status, "http_" + response.status, response.statusText || `HTTP ${response.status}`);
  return response;
}

// The server's own OpenAPI description (fetched once): what this server offers.
let openapi = null;
export function openapiDoc() {
  openapi ||= raw("/openapi.json").catch((error) => { openapi = null; throw error; });
  return openapi;
}
export async function serverHas(path) {
  try { return Boolean((await openapiDoc()).paths?.[path]); } catch (_) { return false; }
}

export async function signIn(email, password, organizationId) {
  const body = { email, password };
  if (organizationId) body.organization_id = organizationId;
  save(fromTokens(await raw("/api/v1/auth/login", { method: "POST", body })));
}

// Move this session to another of the user's organizations (no password: the user is signed
// in); the login it replaces is revoked.
export async function switchOrganization(organizationId) {
  const tokens = await api("/api/v1/auth/switch-organization", { method: "POST", body: { organization_id: organizationId, refresh_token: session.refresh } });
  save(fromTokens(tokens));
}

// Returns null when signed up and in; else the API's "pending" answer (202: the email may
// already have an account, which the API does not reveal).
export async function signUp(body) {
  const result = await raw("/api/v1/auth/signup", { method: "POST", body });
  if (!result?.access_token) return result || { message: "Sign in with your account." };
  save(fromTokens(result));
  return null;
}

// A new password signs out every other session; this one continues on the returned login.
export async function changePassword(current, next) {
  save(fromTokens(await api("/api/v1/auth/password", { method: "POST", body: { current_password: current, new_password: next } })));
}

export async function signOutEverywhere() {
  await api("/api/v1/auth/logout-all", { method: "POST" });
  save(null);
}

export async function acceptInvitation(token) {
  return api("/api/v1/invitations/accept", { method: "POST", body: { invite_token: token } });
}

// Revoke the login on the server first, then forget it here.
export async function signOut() {
  const token = session?.refresh;
  clearTimeout(refreshTimer);
  if (token) await raw("/api/v1/auth/logout", { method: "POST", body: { refresh_token: token } }).catch(() => {});
  save(null);
}

schedule();
