-- 004: bulk sends (batches that wait for approval), templates, letters, SMS/robocall
-- providers, contacts flagged for notices and location owners.

-- the owner of the customer's location: another customer (seed 004, "Owner" tab)
alter table customers add column owner_id bigint;

-- people around a customer who may receive notices; contacts have no account number
create sequence if not exists contact_ids;
create table contacts (
    id bigint primary key default nextval('contact_ids'),
    customer_id bigint not null,
    name varchar not null,
    email varchar,                       -- the primary email
    phone varchar,
    mobile varchar,
    receives_notices boolean not null default false,
    sms_opt_in boolean not null default false,
    active boolean not null default true,
    created_at timestamptz not null default current_timestamp
);

-- jinja2 templates (rendered in the sandbox); a body left empty means "not for that channel"
create sequence if not exists template_ids;
create table templates (
    id integer primary key default nextval('template_ids'),
    name varchar not null unique,
    description varchar not null default '',
    subject varchar not null default '',
    text_body varchar not null default '',
    html_body varchar not null default '',
    letter_body varchar not null default '',
    sms_body varchar not null default '',
    updated_by varchar not null,
    updated_at timestamptz not null default current_timestamp
);

-- a file sent with many messages is stored once
create sequence if not exists attachment_ids;
create table attachments (
    id bigint primary key default nextval('attachment_ids'),
    filename varchar not null,
    content_type varchar not null default 'application/pdf',
    size bigint not null,
    sha256 varchar not null,
    pages integer,
    content blob not null,
    created_by varchar not null,
    created_at timestamptz not null default current_timestamp
);

create sequence if not exists batch_ids;
create table batches (
    id bigint primary key default nextval('batch_ids'),
    title varchar not null,              -- the subject or template name, for lists
    -- generating | pending (approval) | approved | rejected | cancelled | failed (generation)
    status varchar not null default 'generating',
    channel_mode varchar not null,       -- preferred | email | letter | sms | robocall
    selection varchar not null,          -- JSON: how the recipients were chosen
    template_name varchar,
    subject varchar not null default '',
    text_body varchar not null default '',
    html_body varchar not null default '',
    letter_body varchar not null default '',
    sms_body varchar not null default '',
    attachment_id bigint,
    created_by varchar not null,
    created_at timestamptz not null default current_timestamp,
    generated_at timestamptz,
    recipients integer not null default 0,   -- chosen in review
    emails integer not null default 0,
    letters integer not null default 0,
    sms integer not null default 0,
    robocalls integer not null default 0,
    not_generated integer not null default 0,
    decided_by varchar,
    decided_at timestamptz,
    decision_comment varchar,
    error varchar
);

-- recipients a batch generated nothing for, and why (the partial-success list)
create table batch_failures (
    batch_id bigint not null,
    account_no varchar,
    linked_account_no varchar,
    kind varchar not null,               -- customer | contact | owner
    name varchar not null,
    channel varchar not null,
    destination varchar,
    reason varchar not null
);

alter table messages add column batch_id bigint;
alter table messages add column attachment_id bigint;
alter table messages add column recipient_kind varchar;    -- customer | contact | owner
alter table messages add column recipient_name varchar;
alter table messages add column contact_id bigint;
alter table messages add column posted_by varchar;         -- letters: who marked it posted

-- a generated letter: its PDF (without the batch attachment, appended when printed) is a
-- file in the database's .letters folder (store/letter_files.py says why not a blob)
create table letters (
    message_id bigint primary key,
    file varchar not null,
    pages integer not null
);

create sequence if not exists sms_provider_ids;
create table sms_providers (
    id integer primary key default nextval('sms_provider_ids'),
    name varchar not null unique,
    kind varchar not null default 'twilio',
    base_url varchar not null default 'https://api.twilio.com',
    account_sid varchar not null,
    token_ref varchar,                   -- 'env:VAR' or 'secret:KEY'; never the token itself
    from_number varchar not null,
    default_region varchar not null default 'AU',
    verify_tls boolean not null default true,
    active boolean not null default false,
    updated_at timestamptz not null default current_timestamp
);
