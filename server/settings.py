"""Process-wide settings, read once from the environment and an optional ``.env`` file.

Every field is documented in the README's settings table with its default. Invalid values
fail at start-up with a message naming the environment variable.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.billing.catalog import PlanCatalog
from server.pricing import Pricing


class SettingsError(Exception):
    """Raised with a readable message when the environment holds invalid settings."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- server --------------------------------------------------------------------------
    env: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # Smart Turn inference threads per worker process (BENCHMARKS.md); default: the
    # process's cores ÷ WORKERS, at least 1
    smart_turn_threads: int | None = Field(default=None, ge=1, le=64)
    # How long a call's Silero VAD window may wait to be scored in one batch with other
    # calls' windows (pipeline/vad_batch.py); 0: each window scored alone
    vad_batch_ms: float = Field(default=10.0, ge=0, le=50)
    public_url: AnyHttpUrl | None = None
    data_dir: Path = Path(".data")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    # Tracing (docs/OBSERVABILITY.md): OTLP/HTTP collector base URL; unset = no tracing.
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "switchboard"
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    # spoken to each call still up when the grace period ends ("": hang up silently)
    shutdown_goodbye: str = Field(default="Sorry, we have to end this call now. Goodbye.",
                                  max_length=300)
    # the fleet (docs/FLEET.md): live calls heartbeat; calls silent for CALL_LOST_AFTER are
    # finalized as instance_lost by the sweeper (any instance, one at a time)
    call_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    call_lost_after_seconds: float = Field(default=60.0, gt=0, le=3600)
    call_sweep_seconds: float = Field(default=15.0, gt=0, le=3600)
    warmup: bool = True  # load speech models at start-up instead of on the first call
    gc_freeze: bool = True  # after warm-up, freeze the start-up heap out of the collector

    # --- database ------------------------------------------------------------------------
    database_url: str | None = None
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    migrate_on_start: bool = True

    # --- redis (optional) ----------------------------------------------------------------
    redis_url: str | None = None

    # --- telephony -----------------------------------------------------------------------
    # carrier REST base URLs (default: the carrier's own; tests point the SDKs at fakes)
    twilio_api_base_url: str | None = None
    telnyx_api_base_url: str | None = None
    plivo_api_base_url: str | None = None
    vonage_api_base_url: str | None = None
    exotel_api_base_url: str | None = None
    # lifetime of the single-use token admitting a carrier's media websocket to a call
    stream_token_ttl_seconds: int = Field(default=60, ge=5, le=3600)
    # outbound calls: the token must outlive ringing (it is minted when dialing for
    # carriers that stream straight from the dial request)
    outbound_stream_token_ttl_seconds: int = Field(default=180, ge=5, le=3600)
    redis_prefix: str = "switchboard"  # key/channel namespace, so deployments can share a Redis
    # calls one instance (process) carries at most; past it new calls are refused (None: no cap)
    max_live_calls: int | None = Field(default=None, ge=1, le=100_000)

    # --- background jobs and webhooks ----------------------------------------------------
    jobs_enabled: bool = True  # run the job worker inside the server (else `switchboard worker`)
    jobs_concurrency: int = Field(default=4, ge=1, le=64)
    jobs_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    job_retry_base_seconds: float = Field(default=10.0, gt=0)  # backoff: base * 2^(attempt-1)
    jobs_drain_seconds: float = Field(default=20.0, ge=0, le=600)  # then unfinished are released
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # campaigns (docs/CAMPAIGNS.md): how often a running campaign's dispatcher ticks, and how
    # long a dial may stay unanswered before another instance re-sends it (same key)
    campaign_tick_seconds: float = Field(default=1.0, gt=0, le=60)
    campaign_dial_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    campaign_import_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)  # one CSV upload
    # Egress (runtime/egress.py): tools, webhooks, tenant provider URLs to non-public
    # addresses. Off in every environment; true only for local development.
    allow_private_urls: bool = False

    # --- identity ------------------------------------------------------------------------
    jwt_private_key: str | None = None  # PEM Ed25519; generated into data_dir when unset
    jwt_issuer: str = "switchboard"
    jwt_audience: str = "switchboard-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=60)
    secrets_key: str | None = None  # Fernet key for credentials at rest; generated when unset
    # several Fernet keys, comma-separated, newest first: the first encrypts, all decrypt
    # (rotation: prepend a new key, run `switchboard rotate-keys`, then drop the old one)
    secret_keys: str | None = None
    # absolute lifetime of a login (a refresh-token family), however often it is refreshed
    refresh_family_max_age_seconds: int = Field(default=30 * 86_400, ge=60)
    # an already-rotated refresh token presented again within this many seconds is a
    # legitimate double refresh (two tabs), not theft: it gets a token, the login survives
    refresh_reuse_grace_seconds: float = Field(default=10.0, ge=0, le=300)
    # who may create an account: open | invite_only | closed (None: open, invite_only in
    # production)
    signup_policy: Literal["open", "invite_only", "closed"] | None = None
    # the plan (server/billing/plans.py) organizations get when created by sign-up or
    # create-org; a single-tenant deployment may start everyone on `scale`
    default_plan: str = "free"
    # plans overriding the built-in ones (TOML, or JSON by extension): docs/BILLING.md
    plans_file: Path | None = None
    _plan_catalog: PlanCatalog | None = PrivateAttr(default=None)
    # Argon2id (64 MiB each): hashes running at once, and how many may wait, so a login
    # flood cannot take the CPU from live calls (past the queue: 503 with Retry-After)
    password_hash_concurrency: int = Field(default=2, ge=1, le=64)
    password_hash_queue: int = Field(default=32, ge=0, le=10_000)
    # rate limits ("N/second|minute|hour", ";"-separated for several); None: on unless
    # ENV=test. Redis-backed with REDIS_URL, else per process.
    rate_limits_enabled: bool | None = None
    rate_limit_login_ip: str = "30/minute;300/hour"
    rate_limit_login_account: str = "10/minute;50/hour"
    rate_limit_signup_ip: str = "10/hour"
    rate_limit_signup_account: str = "5/hour"
    rate_limit_refresh_ip: str = "120/minute"
    rate_limit_refresh_account: str = "30/minute"
    rate_limit_invite_ip: str = "60/hour"
    rate_limit_invite_account: str = "50/hour"
    rate_limit_chat_org: str = "120/minute"
    rate_limit_webrtc_offer_org: str = "60/minute"
    # /metrics needs `Authorization: Bearer <METRICS_TOKEN>` when set; in production it is
    # not served at all without one
    metrics_token: str | None = None

    # --- billing: Stripe (docs/STRIPE.md); without STRIPE_API_KEY billing is disabled ----
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None  # whsec_... of the webhook endpoint
    stripe_api_base: str | None = None  # e.g. https://api.stripe.com (tests: a fake)
    stripe_meter_event_name: str = Field(default="switchboard_call_minutes", min_length=1,
                                         max_length=100)
    # a past_due subscription keeps its plan this long, then the organization is suspended
    billing_past_due_grace_days: int = Field(default=7, ge=0, le=365)
    billing_canceled_plan: Literal["free", "suspended"] = "free"  # canceled/unpaid -> this
    # where Stripe sends the browser back (default: PUBLIC_URL + /console/#/billing...)
    billing_checkout_success_url: str | None = None
    billing_checkout_cancel_url: str | None = None
    billing_portal_return_url: str | None = None

    # --- calls: recording and browser (WebRTC) calls ------------------------------------
    record_calls: bool = True  # stereo WAV per call under DATA_DIR/recordings
    # where recordings are kept (server/recordings/): file:///path (default
    # DATA_DIR/recordings) or s3://bucket/prefix; S3 credentials from the AWS_* variables
    recordings_url: str | None = None
    s3_endpoint_url: str | None = None  # any S3-compatible store (MinIO, R2, ...); unset: AWS
    s3_region: str | None = None
    recording_retention_days: int | None = Field(default=None, ge=1, le=36_500)  # None: keep
    recording_upload_retry_seconds: float = Field(default=5.0, gt=0, le=3600)  # backoff base
    webrtc_stun_urls: str = ""  # comma-separated, e.g. stun:stun.l.google.com:19302
    webrtc_turn_urls: str = ""  # comma-separated turn:/turns: URLs of a coturn server
    webrtc_turn_secret: str | None = None  # coturn static-auth-secret (REST credentials)
    webrtc_turn_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    # a browser peer that has not connected by then is ended (failed, never_connected)
    webrtc_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    # --- speech providers (defaults when an organization stored no key of its own) -------
    deepgram_api_key: str | None = None
    deepgram_base_url: str | None = None  # e.g. wss://api.deepgram.com (self-hosted/proxy)
    openai_api_key: str | None = None
    openai_base_url: str | None = None  # e.g. https://api.openai.com/v1
    elevenlabs_api_key: str | None = None
    elevenlabs_base_url: str | None = None  # e.g. wss://api.elevenlabs.io
    cartesia_api_key: str | None = None
    cartesia_base_url: str | None = None  # e.g. wss://api.cartesia.ai
    # Let organizations without keys of their own use the keys above (only ever against
    # the endpoints above, never a tenant-chosen URL). None: true unless ENV=production.
    share_server_keys: bool | None = None

    # --- costs: unit prices per provider, JSON (server/pricing.py; every default is 0) ----
    pricing: Pricing = Field(default_factory=Pricing)

    @field_validator(
        "deepgram_api_key", "deepgram_base_url", "openai_api_key", "openai_base_url",
        "elevenlabs_api_key", "elevenlabs_base_url", "cartesia_api_key", "cartesia_base_url",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _empty_provider_value_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url", "redis_url", "jwt_private_key", "secrets_key",
                     "secret_keys", "metrics_token", "stripe_api_key", "stripe_webhook_secret",
                     "stripe_api_base", "recordings_url", "s3_endpoint_url", "s3_region",
                     mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must start with postgresql:// or postgres://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("recordings_url")
    @classmethod
    def _recordings_url(cls, value: str | None) -> str | None:
        if value is not None:
            from server.recordings.location import parse_recordings_url

            parse_recordings_url(value)  # raises ValueError naming what is wrong
        return value

    @field_validator("plans_file", mode="before")
    @classmethod
    def _no_plans_file(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _load_plans(self) -> Settings:
        from server.billing.catalog import PlansFileError, load_catalog

        try:
            catalog = load_catalog(self.plans_file)
        except PlansFileError as exc:
            raise ValueError(str(exc)) from None
        plan = catalog.find(self.default_plan)
        if plan is None or not plan.allows_calls:
            choices = ", ".join(p.name for p in catalog if p.allows_calls)
            raise ValueError(f"DEFAULT_PLAN: must be one of {choices}")
        self._plan_catalog = catalog
        return self

    @property
    def plan_catalog(self) -> PlanCatalog:
        """The plans of this deployment: built in, overridden by ``PLANS_FILE``."""
        if self._plan_catalog is None:  # built with model_construct
            from server.billing.catalog import load_catalog

            self._plan_catalog = load_catalog(self.plans_file)
        return self._plan_catalog

    @model_validator(mode="after")
    def _secret_keys_win(self) -> Settings:
        if self.secret_keys:  # the rotation list replaces the single key
            self.secrets_key = self.secret_keys
        return self

    @model_validator(mode="after")
    def _production_needs_public_url(self) -> Settings:
        if self.env == "production" and self.public_url is None:
            # callback and webhook URLs would otherwise come from the Host header
            raise ValueError("PUBLIC_URL is required when ENV=production")
        return self

    @property
    def effective_signup_policy(self) -> str:
        if self.signup_policy is not None:
            return self.signup_policy
        return "invite_only" if self.env == "production" else "open"

    @property
    def effective_rate_limits(self) -> bool:
        return self.rate_limits_enabled if self.rate_limits_enabled is not None else (self.env != "test")

    @model_validator(mode="after")
    def _workers_share_limits(self) -> Settings:
        # Without Redis each worker process keeps its own concurrency slots and control bus:
        # every organization's limit would be multiplied by WORKERS, and a call could not be
        # hung up from another worker. Refuse that configuration instead.
        if self.workers > 1 and not self.redis_url:
            raise ValueError(
                "WORKERS > 1 needs REDIS_URL: worker processes share call limits and call "
                "control only through Redis (set REDIS_URL, or run one worker per instance)"
            )
        return self

    @model_validator(mode="after")
    def _heartbeat_within_lost_bound(self) -> Settings:
        if self.call_lost_after_seconds < 2 * self.call_heartbeat_seconds:
            raise ValueError(
                "CALL_LOST_AFTER_SECONDS must be at least twice CALL_HEARTBEAT_SECONDS (a "
                "live call would be swept between two heartbeats)"
            )
        return self

    @cached_property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.env == "production"
        return self.log_format == "json"

    @property
    def shares_server_keys(self) -> bool:
        """``SHARE_SERVER_KEYS``; unset: shared outside production."""
        if self.share_server_keys is None:
            return self.env != "production"
        return self.share_server_keys

    def public_base_url(self, fallback: str) -> str:
        """The externally visible base URL (``PUBLIC_URL``), else the request's own."""
        base = str(self.public_url) if self.public_url else fallback
        return base.rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one message naming each variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "_".join(str(p) for p in err["loc"]).upper() or "settings"
            if not err["loc"]:  # a check across settings names its variables in the message
                problems.append(str(err["msg"]).removeprefix("Value error, "))
                continue
            problems.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
