"""The web UI in a real browser: Debian's chromium, headless, driven by Selenium through
Debian's chromium-driver, on the pages the stack's API function serves (127.0.0.1 only).

People sign in on /login with ID tokens of the stack's OIDC issuer (stack/oidc.py), so the
cookie, the CSRF header and RBAC are the real ones. The story: an application synced twice
from Git, a hand edit in the cluster and a Secret in the repository; the list, the resource
tree, the diff (live vs desired, revision vs revision, Secret values masked) and the history
are opened; the admin clicks Sync and the page follows the sync live until its history entry
appears, recorded with the admin's verified e-mail; a read-only user sees no button, and a
POST forced from the page is refused 403. Screenshots of the main pages are kept in the run's
artifacts (GITOPS_ARTIFACTS, or the pytest basetemp's artifacts/web-ui).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.adapters import store
from shared.core import rbac
from stack import local, oidc
from stack.gitrepo import WorkRepo
from tests.integration.conftest import create_app, kubectl, push, sweep, wait_history
from tests.integration.manifests import configmap, deployment, service

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.integration

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
READER = "reader@example.com"
PASSWORD = "hunter2-do-not-show"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("GITOPS_ARTIFACTS")
    folder = (Path(root) if root else tmp_path_factory.getbasetemp() / "artifacts") / "web-ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        pytest.fail("chromium and chromium-driver are missing: run bash stack/setup.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1360,900",
        # nothing but 127.0.0.1: no updates, sync, metrics or field trials
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
        "--no-proxy-server",
    ):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads anything
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def reader_policy(stack: local.Stack) -> Iterator[None]:
    """READER is role:readonly (the admin is role:admin from the stack's bootstrap policy)."""
    policy, origin = store.get_policy()
    store.put_policy(policy.merged(rbac.parse(f"g, {READER}, {rbac.READONLY}")), origin)
    yield
    store.put_policy(policy, origin)


def secret_yaml(password: str) -> str:
    return (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n"
        f"stringData:\n  password: {password}\n"
    )


@pytest.fixture(scope="module")
def shop(stack: local.Stack, reader_policy: None) -> str:
    """An application synced twice (a ConfigMap and a Secret changed), then edited by hand."""
    uid = os.urandom(3).hex()
    name, ns = f"shop-{uid}", f"ui-{uid}"
    kubectl("create", "namespace", ns)
    repo = WorkRepo(stack.env["GITOPS_GIT_ROOT"], stack.env["GITOPS_GIT_URL"], f"dana/ui-{uid}")
    key = Path(stack.env["GITOPS_WEBHOOK_SECRET_FILE"]).read_text().strip().encode()
    create_app(name, repo, ns, self_heal=False)
    first = push(
        stack,
        key,
        repo,
        "shop: web, settings, db",
        {
            "app/web.yaml": deployment(replicas=1),
            "app/svc.yaml": service(),
            "app/settings.yaml": configmap(greeting="hello"),
            "app/db.yaml": secret_yaml("first-" + PASSWORD),
        },
    )
    wait_history(name, 1, timeout=120)
    push(
        stack,
        key,
        repo,
        "shop: greet in French, rotate the password",
        {"app/settings.yaml": configmap(greeting="bonjour"), "app/db.yaml": secret_yaml(PASSWORD)},
        before=first,
    )
    wait_history(name, 2, timeout=120)
    # a hand edit the diff shows (no self-heal: it stays until someone syncs)
    kubectl("-n", ns, "patch", "configmap", "settings", "--type=merge", "-p", '{"data":{"greeting":"hi"}}')
    sweep(name)  # the audit records the drift: field, field manager, who wrote it
    return name


def sign_in(browser: webdriver.Chrome, stack: local.Stack, email: str) -> None:
    """The real sign-in: paste an ID token on /login; the API keeps it in an HttpOnly cookie."""
    base = stack.env["GITOPS_API_URL"]
    browser.delete_all_cookies()
    browser.get(base + "/login")
    browser.find_element(By.ID, "token").send_keys(oidc.mint(stack, email, ttl_s=1800))
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # the sign-in page has a heading too: wait for the page that names who is signed in
    WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: any(email in e.text for e in d.find_elements(By.CSS_SELECTOR, ".who"))
    )


def open_page(browser: webdriver.Chrome, stack: local.Stack, path: str) -> None:
    browser.get(stack.env["GITOPS_API_URL"] + path)
    WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.ID, "main"))


def shot(browser: webdriver.Chrome, artifacts: Path, name: str) -> None:
    """The whole page (as a person scrolls through it), as a PNG in the run's artifacts."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 3000), "scale": 1}
    png = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    (artifacts / f"{name}.png").write_bytes(base64.b64decode(png["data"]))


def cell_texts(browser: webdriver.Chrome, selector: str) -> list[str]:
    """The texts of SELECTOR's elements, read in one script: the page's poll replaces the
    table between two WebDriver calls, so reading element by element can go stale."""
    script = "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())"
    return [str(t) for t in browser.execute_script(script, selector)]


def status_text(browser: webdriver.Chrome) -> str:
    """The status header's text, read at once (the page replaces it on each poll)."""
    return str(browser.execute_script("return document.getElementById('status').textContent"))


def history_count(browser: webdriver.Chrome) -> int:
    return int(browser.execute_script("return document.getElementById('status').dataset.history"))


def click(browser: webdriver.Chrome, selector: str, *, keyboard: bool = False) -> None:
    """Click SELECTOR (or press Enter on it), again if the page's poll replaced the element
    between finding and clicking it."""

    def press(d: webdriver.Chrome) -> bool:
        element = d.find_element(By.CSS_SELECTOR, selector)
        element.send_keys(Keys.ENTER) if keyboard else element.click()
        return True

    WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(press)


def wait_for_entry(browser: webdriver.Chrome, sequence: int) -> None:
    """Until the history table (refreshed by the page itself) shows entry SEQUENCE."""
    try:
        WebDriverWait(
            browser, 180, poll_frequency=0.5, ignored_exceptions=(StaleElementReferenceException,)
        ).until(lambda d: str(sequence) in cell_texts(d, "table.history tbody th a"))
    except TimeoutException:
        notice = browser.find_element(By.ID, "notice").text
        raise AssertionError(f"no history entry {sequence} on the page; it says {notice!r}") from None


def test_the_list_shows_sync_health_and_filters(stack, browser, shop, artifacts):
    sign_in(browser, stack, oidc.ADMIN)
    open_page(browser, stack, "/applications")
    row = browser.find_element(By.XPATH, f"//table[contains(@class,'apps')]//tr[th/a[text()='{shop}']]")
    # the swept hand edit: OutOfSync, with the drift badge
    assert "OutOfSync" in row.text and "1 drifted" in row.text and "default" in row.text
    shot(browser, artifacts, "list")
    # the filters are a plain GET form: filter by project, then by a status nobody has
    browser.find_element(By.ID, "f-name").send_keys(shop)
    browser.find_element(By.CSS_SELECTOR, ".filters button[type=submit]").click()
    WebDriverWait(browser, 60).until(lambda d: "name=" in d.current_url)
    assert cell_texts(browser, "table.apps tbody th a") == [shop]
    open_page(browser, stack, f"/applications?name={shop}&health=Degraded")
    assert not browser.find_elements(By.CSS_SELECTOR, "table.apps")
    assert "No application matches" in browser.find_element(By.ID, "main").text


def test_the_tree_shows_each_owned_object_with_health_and_sync(stack, browser, shop, artifacts):
    open_page(browser, stack, f"/applications/{shop}")
    keys = [
        e.get_attribute("data-key") for e in browser.find_elements(By.CSS_SELECTOR, "table.tree tr[data-key]")
    ]
    ns = keys[0].split("/")[1]
    assert sorted(keys) == sorted(
        [f"ConfigMap/{ns}/settings", f"Secret/{ns}/db", f"Service/{ns}/web", f"Deployment.apps/{ns}/web"]
    )
    web = browser.find_element(By.CSS_SELECTOR, f"tr[data-key='Deployment.apps/{ns}/web']")
    assert any(h in web.text for h in ("Healthy", "Progressing")) and "Synced" in web.text
    settings = browser.find_element(By.CSS_SELECTOR, f"tr[data-key='ConfigMap/{ns}/settings']")
    assert "OutOfSync" in settings.text  # the hand edit the audit found

    def made_for_web(d: webdriver.Chrome) -> list[str]:
        """The rows under the Deployment: what the cluster made for it (its ReplicaSet, Pod)."""
        d.refresh()
        rows = d.find_elements(By.CSS_SELECTOR, f"tr.child[data-owner='Deployment.apps/{ns}/web']")
        kinds = [r.find_element(By.CSS_SELECTOR, ".kind").text.strip(" └") for r in rows]
        return kinds if {"ReplicaSet", "Pod"} <= set(kinds) else []

    WebDriverWait(browser, 90, poll_frequency=2).until(made_for_web)
    assert browser.find_element(By.CSS_SELECTOR, "button[data-action=sync]").is_displayed()
    shot(browser, artifacts, "tree")


def test_the_diff_shows_the_hand_edit_and_revisions_without_secret_values(stack, browser, shop, artifacts):
    open_page(browser, stack, f"/applications/{shop}/diff")
    text = browser.find_element(By.ID, "content").text
    assert "ConfigMap" in text and "greeting: hi" in text and "greeting: bonjour" in text
    shot(browser, artifacts, "diff")
    open_page(browser, stack, f"/applications/{shop}/diff?old=1&new=2")
    text = browser.find_element(By.ID, "content").text
    assert "greeting: hello" in text and "greeting: bonjour" in text
    assert "Secret" in text  # the password changed: shown as a change of digests
    assert PASSWORD not in browser.page_source


def test_the_drift_tab_names_the_field_its_manager_and_the_person(stack, browser, shop, artifacts):
    open_page(browser, stack, f"/applications/{shop}/drift")
    row = browser.find_element(By.XPATH, "//section[@id='content']//tbody/tr[th[contains(., 'ConfigMap')]]")
    assert "data.greeting" in row.text and '"hi"' in row.text and '"bonjour"' in row.text
    assert "kubectl" in row.text  # the field manager (kubectl-patch)
    shot(browser, artifacts, "drift")


def test_the_history_lists_entries_and_one_entry_its_objects(stack, browser, shop, artifacts):
    open_page(browser, stack, f"/applications/{shop}/history")
    ids = cell_texts(browser, "table.history tbody th a")
    assert ids[:2] == ["2", "1"]
    assert browser.find_elements(By.CSS_SELECTOR, "button[data-action=rollback]")  # to entry 1
    shot(browser, artifacts, "history")
    browser.find_element(By.LINK_TEXT, "1").click()
    WebDriverWait(browser, 60).until(lambda d: "History entry 1" in d.find_element(By.ID, "content").text)
    results = browser.find_element(By.ID, "content").text
    assert "created" in results and "Deployment" in results


def test_an_allowed_user_clicks_sync_and_watches_it_happen(stack, browser, shop, artifacts):
    open_page(browser, stack, f"/applications/{shop}/history")
    before = history_count(browser)
    click(browser, "button[data-action=sync]", keyboard=True)  # the keyboard works as well as the mouse
    # the page polls its status and reloads the history when the sync's entry is written
    wait_for_entry(browser, before + 1)
    assert "finished" in browser.find_element(By.ID, "notice").text
    entry = store.get_history(shop, before + 1, results=False)
    assert entry["initiator"] == "manual" and entry["triggeredBy"] == oidc.ADMIN
    shot(browser, artifacts, "history-after-sync")
    # the sync re-applied the ConfigMap: the hand edit is gone
    open_page(browser, stack, f"/applications/{shop}/diff")
    assert "greeting: hi" not in browser.find_element(By.ID, "content").text


def test_rollback_pins_and_unpin_moves_on_from_the_page(stack, browser, shop, artifacts):
    open_page(browser, stack, f"/applications/{shop}/history")
    before = history_count(browser)
    click(browser, "button[aria-label='Roll back to history entry 1']")
    wait_for_entry(browser, before + 1)
    entry = store.get_history(shop, before + 1, results=False)
    assert entry["initiator"] == "rollback" and entry["triggeredBy"] == oidc.ADMIN
    # a rollback pins an automated application; the status header, polled, says so
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button[data-action=unpin]"))
    assert "Pinned" in status_text(browser)
    shot(browser, artifacts, "pinned")
    click(browser, "button[data-action=unpin]")  # and syncs the head
    wait_for_entry(browser, before + 2)
    assert not store.get_app(shop).status.get("pin")
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button[data-action=pin]"))


def test_a_readonly_user_gets_no_button_and_a_forced_post_is_refused(stack, browser, shop, artifacts):
    sign_in(browser, stack, READER)
    open_page(browser, stack, f"/applications/{shop}")
    assert shop in browser.find_element(By.TAG_NAME, "h1").text
    assert not browser.find_elements(By.CSS_SELECTOR, "button[data-action]")
    open_page(browser, stack, f"/applications/{shop}/history")
    assert not browser.find_elements(By.CSS_SELECTOR, "button[data-action]")
    with pytest.raises(NoSuchElementException):
        browser.find_element(By.CSS_SELECTOR, "button[data-action=rollback]")
    count = history_count(browser)
    # what a curious user could type in the console: the page's own fetch, CSRF header and all
    status = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: 'POST', credentials: 'same-origin',
          headers: {'Content-Type': 'application/json', 'X-GitOps-CSRF': '1'}, body: '{}'})
          .then(r => r.text().then(t => done([r.status, t])), e => done([0, String(e)]));""",
        f"/api/v1/applications/{shop}/sync",
    )
    assert status[0] == 403, status
    assert json.loads(status[1])["code"] == 7
    shot(browser, artifacts, "readonly")
    # nothing was synced
    assert int(store.get_app(shop).status.get("historyCount", 0)) == count
