-- 003: scheduled and recurring sends, per-recipient outcomes, office settings,
-- dispatcher heartbeats and pacing per mail server.

-- the time the operator chose; due_at moves with retries, this never does
alter table messages add column scheduled_at timestamptz;
update messages set scheduled_at = due_at;
-- an occurrence of a recurring series
alter table messages add column series_id bigint;
-- recipients still to be sent to after a partial (4xx at RCPT) attempt; null = the whole envelope
alter table messages add column pending_rcpts varchar[];

create sequence if not exists series_ids;
create table series (
    id bigint primary key default nextval('series_ids'),
    customer_id bigint,
    to_addrs varchar[] not null,
    cc_addrs varchar[] not null default [],
    bcc_addrs varchar[] not null default [],
    subject varchar not null default '',
    body varchar not null default '',
    is_html boolean not null default false,
    cron varchar not null,
    timezone varchar not null,
    active boolean not null default true,
    next_at timestamptz,                 -- the next occurrence not yet queued as a message
    skipped integer not null default 0,  -- occurrences passed over while no dispatcher ran
    created_by varchar not null,
    created_at timestamptz not null default current_timestamp,
    cancelled_by varchar,
    cancelled_at timestamptz
);

-- one row per recipient per attempt that was not a clean "all accepted":
-- refused (5xx at RCPT), deferred (4xx at RCPT), accepted (in a partial attempt)
create table recipient_outcomes (
    message_id bigint not null,
    address varchar not null,
    attempt integer not null,
    outcome varchar not null,
    reply varchar,
    recorded_at timestamptz not null
);

-- settings every operator and dispatcher must agree on (time zone, missed-run policy, pause)
create table office_settings (
    key varchar primary key,
    value varchar not null,
    updated_by varchar,
    updated_at timestamptz not null default current_timestamp
);

create table dispatchers (
    owner varchar primary key,
    kind varchar not null,
    started_at timestamptz not null,
    seen_at timestamptz not null
);

alter table mail_servers add column concurrency integer not null default 4;
alter table mail_servers add column rate_per_minute integer not null default 0;
