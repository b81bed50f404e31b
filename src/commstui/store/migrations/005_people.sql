-- 005: the people around a customer (service addresses and their additional contacts,
-- more emails for contacts), quotes and invoices, and the audit log of user changes.

-- where a customer receives service; the first comes from the customer's own address
create sequence if not exists service_address_ids;
create table service_addresses (
    id bigint primary key default nextval('service_address_ids'),
    customer_id bigint not null,
    label varchar not null default '',          -- e.g. "Home", "Holiday unit"
    address_line1 varchar not null,
    address_line2 varchar,
    city varchar,
    state varchar,
    postcode varchar,
    -- the "additional communication" toggle: off keeps the contacts but sends them nothing
    additional_comms boolean not null default false,
    updated_by varchar not null default 'system',
    updated_at timestamptz not null default current_timestamp
);
create index service_addresses_customer on service_addresses (customer_id);

insert into service_addresses (customer_id, label, address_line1, address_line2, city, state, postcode)
select id, 'Service address', address_line1, address_line2, city, state, postcode
from customers where address_line1 is not null;

-- additional recipients of one service address (seed 002): several per address
create sequence if not exists address_contact_ids;
create table address_contacts (
    id bigint primary key default nextval('address_contact_ids'),
    address_id bigint not null,
    name varchar not null default '',
    email varchar,
    phone varchar,
    updated_by varchar not null default 'system',
    updated_at timestamptz not null default current_timestamp
);
create index address_contacts_address on address_contacts (address_id);

-- a contact's further emails (contacts.email stays the primary one)
alter table contacts add column other_emails varchar[] default [];

-- quotes and invoices (sample data has a few per customer); emailed as PDFs
create sequence if not exists document_ids;
create table documents (
    id bigint primary key default nextval('document_ids'),
    customer_id bigint not null,
    address_id bigint,                          -- the service address it is for
    kind varchar not null check (kind in ('quote', 'invoice')),
    number varchar not null unique,             -- Q-000123 / INV-000456
    issued_on date not null,
    due_on date,                                -- invoices: payment due; quotes: valid until
    status varchar not null default 'open',     -- open | accepted | paid | void
    notes varchar not null default '',
    created_at timestamptz not null default current_timestamp
);
create index documents_customer on documents (customer_id);

create table document_lines (
    document_id bigint not null,
    line_no integer not null,
    description varchar not null,
    quantity decimal(12, 2) not null default 1,
    unit_price decimal(12, 2) not null,         -- dollars, tax inclusive
    primary key (document_id, line_no)
);

-- who changed what about users, roles and access, and when (administrators read it)
create sequence if not exists audit_ids;
create table audit_log (
    id bigint primary key default nextval('audit_ids'),
    happened_at timestamptz not null default current_timestamp,
    actor varchar not null,
    action varchar not null,                    -- e.g. user.add, user.roles, user.unlock
    target varchar not null,                    -- e.g. the username acted on
    detail varchar not null default ''
);
create index audit_log_happened on audit_log (happened_at);
