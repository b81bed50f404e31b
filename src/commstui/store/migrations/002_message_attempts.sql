-- 002: every send attempt is kept (when, by which dispatcher, what the server said),
-- so "who did not get it, and why" never depends on the latest reply alone.
create sequence if not exists attempt_ids;
create table message_attempts (
    id bigint primary key default nextval('attempt_ids'),
    message_id bigint not null,          -- messages.id
    attempt integer not null,
    dispatcher varchar not null,
    finished_at timestamptz not null,
    outcome varchar not null,            -- sent | temporary | permanent
    reply varchar,
    refused varchar[] not null default []  -- 'recipient: reply' for each refused recipient
);
