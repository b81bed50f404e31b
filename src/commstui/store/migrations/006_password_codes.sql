-- 006: one-time codes emailed to a user so they can set their own password
-- ("Set my password" on the login screen; services/activation.py).

create sequence if not exists password_code_ids;
create table password_codes (
    id bigint primary key default nextval('password_code_ids'),
    username varchar not null,
    code_hash varchar not null,                 -- argon2id of the code; never the code itself
    created_at timestamptz not null default current_timestamp,
    expires_at timestamptz not null,
    used_at timestamptz,                        -- the password was set with it
    voided_at timestamptz,                      -- replaced by a newer code, or too many wrong tries
    failed_attempts integer not null default 0,
    email_id bigint                             -- the messages row that carries the code
);

-- a message whose body is a secret (a live code): sent as written, shown to nobody
alter table messages add column sensitive boolean default false;
