-- 001: the walking skeleton's schema.
create table if not exists schema_migrations (
    version integer primary key,
    name varchar not null,
    applied_at timestamptz not null default current_timestamp
);

create sequence if not exists brand_ids;
create table brands (
    id integer primary key default nextval('brand_ids'),
    name varchar not null unique
);

create sequence if not exists building_ids;
create table buildings (
    id integer primary key default nextval('building_ids'),
    code varchar not null unique,
    name varchar not null,
    brand_id integer not null references brands(id),
    address varchar
);

create sequence if not exists company_ids;
create table companies (
    id integer primary key default nextval('company_ids'),
    code varchar not null unique,
    name varchar not null
);

create sequence if not exists customer_ids;
create table customers (
    id bigint primary key default nextval('customer_ids'),
    account_no varchar not null unique,
    name varchar not null,
    customer_type varchar not null default 'residential',
    status varchar not null default 'active',
    company_id integer,
    building_id integer,
    preferred_delivery varchar not null default 'email'
        check (preferred_delivery in ('email', 'post', 'sms')),
    email varchar,
    mobile varchar,
    sms_opt_in boolean not null default false,
    address_line1 varchar,
    address_line2 varchar,
    city varchar,
    state varchar,
    postcode varchar,
    -- lower-cased account/name/email/phone, kept by the store so one
    -- contains() scan answers the search box
    search_text varchar not null default '',
    created_at timestamptz not null default current_timestamp
);

create table group_roles (
    name varchar primary key,
    roles varchar[] not null,
    description varchar
);

create sequence if not exists user_ids;
create table users (
    id integer primary key default nextval('user_ids'),
    username varchar not null unique,
    display_name varchar not null,
    email varchar,
    password_hash varchar not null,
    roles varchar[] not null default [],
    group_roles varchar[] not null default [],
    company_ids integer[] not null default [],
    customer_id bigint,
    active boolean not null default true,
    failed_logins integer not null default 0,
    locked_until timestamptz,
    created_at timestamptz not null default current_timestamp
);

create sequence if not exists message_ids;
create table messages (
    id bigint primary key default nextval('message_ids'),
    message_id varchar not null,
    customer_id bigint,
    channel varchar not null default 'email',
    to_addrs varchar[] not null,
    cc_addrs varchar[] not null default [],
    bcc_addrs varchar[] not null default [],
    subject varchar not null default '',
    body varchar not null default '',
    is_html boolean not null default false,
    status varchar not null default 'queued',
    due_at timestamptz not null default current_timestamp,
    attempts integer not null default 0,
    last_error varchar,
    server_reply varchar,
    created_by varchar not null,
    created_at timestamptz not null default current_timestamp,
    sent_at timestamptz,
    lease_owner varchar,
    lease_expires_at timestamptz
);

create sequence if not exists note_ids;
create table notes (
    id bigint primary key default nextval('note_ids'),
    customer_id bigint not null,
    author varchar not null,
    text varchar not null,
    created_at timestamptz not null default current_timestamp
);

create sequence if not exists mail_server_ids;
create table mail_servers (
    id integer primary key default nextval('mail_server_ids'),
    name varchar not null unique,
    host varchar not null,
    port integer not null,
    security varchar not null default 'starttls' check (security in ('none', 'starttls', 'tls')),
    username varchar,
    -- 'env:VAR' or 'secret:KEY' (secrets.json, 0600); never the password itself
    password_ref varchar,
    from_addr varchar not null,
    verify_tls boolean not null default true,
    active boolean not null default false,
    updated_at timestamptz not null default current_timestamp
);
