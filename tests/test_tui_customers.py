"""The Customers screen driven with Pilot at 80x24: search while typing, paging,
filters, opening a customer, and what each role may do."""

from __future__ import annotations

from textual.widgets import Input, Select

from commstui.app import CommsApp
from commstui.domain import Page
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.customers import PAGE_SIZE, CustomersFound, CustomersScreen
from commstui.services import customers, setup
from commstui.services.customers import CustomerFilter
from commstui.widgets.customer_table import CustomerTable

from tui_helpers import screen_text, text_of, until

SIZE = (80, 24)


def table(app) -> CustomerTable:
    return app.screen.query_one(CustomerTable)


def accounts(app) -> list[str]:
    t = table(app)
    return [str(t.get_row_at(i)[0]) for i in range(t.row_count)]


def count_text(app) -> str:
    return str(app.screen.query_one("#count").content)


async def customers_shown(pilot) -> CustomersScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, CustomersScreen) and table(app).row_count
                and count_text(app)[:1].isdigit(), "the first page and the count")
    return app.screen


async def test_search_narrows_the_table_while_typing(ctx, operator):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await customers_shown(pilot)
        everyone = customers.count(ctx, operator, CustomerFilter())
        assert count_text(app) == f"{everyone:,} customers"
        assert app.screen.query_one("#search", Input).has_focus
        await pilot.press(*"MALLORY")  # case-insensitive substring of the name
        await until(pilot, lambda: accounts(app) == ["A1000003"], "one match")
        await until(pilot, lambda: count_text(app) == "1 match", "the count")
        # the markup in the name is shown as typed, not as bold
        await until(pilot, lambda: "[bold]Mallory[/bold]" in text_of(table(app)), "the name, literally")
        for _ in range(7):
            await pilot.press("backspace")
        await pilot.press(*"nomatch-xyz")
        await until(pilot, lambda: table(app).row_count == 0 and "No customer matches" in count_text(app),
                    "the no-match message")
        await pilot.press("escape")  # clears the search
        await until(pilot, lambda: table(app).row_count == min(everyone, PAGE_SIZE), "everyone again")


async def test_search_matches_email_and_phone(ctx, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await customers_shown(pilot)
        await pilot.press(*"olivia.bennett@")
        await until(pilot, lambda: accounts(app) == ["A1000001"], "the email match")
        app.screen.query_one("#search", Input).value = "412 345 002"  # spaces as people type them
        await until(pilot, lambda: accounts(app) == ["A1000002"], "the phone match")


async def test_paging_loads_more_rows_as_the_cursor_nears_the_end(ctx, admin):
    setup.seed_customers(ctx, 330)
    total = customers.count(ctx, admin, CustomerFilter())
    assert total > 3 * PAGE_SIZE
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await customers_shown(pilot)
        assert table(app).row_count == PAGE_SIZE  # one page, never everything
        assert count_text(app) == f"{total:,} customers"
        await pilot.press("down")  # from the search box into the results
        assert table(app).has_focus
        await pilot.press("end")
        await until(pilot, lambda: table(app).row_count == 2 * PAGE_SIZE, "the second page")
        await pilot.press("pagedown")
        await pilot.press("end")
        await until(pilot, lambda: table(app).row_count == 3 * PAGE_SIZE, "the third page")
        await pilot.press("end")
        await until(pilot, lambda: table(app).row_count == total, "the last page")
        shown = accounts(app)
        assert shown == sorted(shown) and len(set(shown)) == total  # in order, no gaps or repeats
        await pilot.press("end")
        await pilot.pause()
        assert table(app).row_count == total and not app.screen._has_more


async def test_scrolling_the_view_loads_the_next_page(ctx, admin):
    setup.seed_customers(ctx, 150)
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await customers_shown(pilot)
        grid = table(app)
        grid.scroll_end(animate=False)  # a mouse wheel or scrollbar drag, without moving the cursor
        await until(pilot, lambda: grid.row_count > PAGE_SIZE, "the next page after scrolling")
        assert grid.cursor_row == 0


async def test_filters_by_building_type_and_status(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await customers_shown(pilot)
        options = customers.filter_options(ctx, admin)
        park = next(b for b in options.buildings if b.name == "Parkside Gardens")
        await until(pilot, lambda: len(screen.query_one("#building", Select)._options) > 1, "building options")
        screen.query_one("#building", Select).value = park.id
        expected = customers.search(ctx, admin, CustomerFilter(building_id=park.id)).rows
        await until(pilot, lambda: accounts(app) == [r.account_no for r in expected], "Parkside customers")
        assert all(str(table(app).get_row_at(i)[4]) == "Parkside Gardens" for i in range(table(app).row_count))

        screen.query_one("#customer-type", Select).value = "commercial"
        screen.query_one("#status", Select).value = "active"
        expected = customers.search(ctx, admin, CustomerFilter(
            building_id=park.id, customer_type="commercial", status="active")).rows
        await until(pilot, lambda: accounts(app) == [r.account_no for r in expected]
                    and screen._filter.customer_type == "commercial", "the narrowed list")

        await pilot.press("escape")  # search box empty: Esc clears the filters
        everyone = customers.search(ctx, admin, CustomerFilter()).rows
        await until(pilot, lambda: accounts(app) == [r.account_no for r in everyone], "the filters cleared")


async def test_building_filter_is_usable_from_the_keyboard(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await customers_shown(pilot)
        await until(pilot, lambda: len(screen.query_one("#building", Select)._options) > 1, "building options")
        await pilot.press("down", "f")  # to the results, then to the filters
        building = screen.query_one("#building", Select)
        assert building.has_focus
        await pilot.press("enter", "down", "enter")  # open, first building, choose
        first = customers.filter_options(ctx, admin).buildings[0]
        await until(pilot, lambda: building.value == first.id, "the first building chosen")
        await until(pilot, lambda: f"{first.brand} · {first.name}" in screen_text(app), "the chosen building")
        expected = customers.search(ctx, admin, CustomerFilter(building_id=first.id)).rows
        await until(pilot, lambda: accounts(app) == [r.account_no for r in expected], "that building's customers")


async def test_a_stale_answer_never_replaces_a_newer_one(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await customers_shown(pilot)
        await pilot.press(*"mallory")
        await until(pilot, lambda: accounts(app) == ["A1000003"], "the match")
        old = customers.search(ctx, admin, CustomerFilter())
        screen.post_message(CustomersFound(screen._generation - 1, old, append=False))
        screen.post_message(CustomersFound(screen._generation - 1, Page(old.rows[:1], True), append=True))
        await pilot.pause()
        assert accounts(app) == ["A1000003"]


async def test_enter_or_d_opens_more_details(ctx, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await customers_shown(pilot)
        second = accounts(app)[1]
        await pilot.press("down", "down", "enter")  # into the results, second row, open
        await until(pilot, lambda: isinstance(app.screen, CustomerDetailsScreen), "the details screen")
        assert app.screen.customer_id == customers.get_by_account(ctx, viewer, second).id
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "back to Customers")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, CustomerDetailsScreen), "details via d")


async def test_enter_in_the_search_box_opens_a_single_match(ctx, operator):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await customers_shown(pilot)
        await pilot.press(*"A1000003")
        await until(pilot, lambda: accounts(app) == ["A1000003"] and not screen._loading_page, "one match")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CustomerDetailsScreen), "the details screen")
        assert app.screen.customer_id == customers.get_by_account(ctx, operator, "A1000003").id


async def test_footer_teaches_the_keys(ctx, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await customers_shown(pilot)
        def footer() -> str:
            return screen_text(app).splitlines()[-1]

        await until(pilot, lambda: all(k in footer() for k in ("↓ Results", "Log out", "Commands")),
                    "the search box's keys")
        await pilot.press("down")
        await until(pilot, lambda: all(k in footer() for k in ("More details", "/ Search", "f Filters", "Columns")),
                    "the grid's keys")
