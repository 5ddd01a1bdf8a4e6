#!/usr/bin/env python3
"""Drives fenn's web console in headless Chromium through WebDriver, as a
person would: a wrong token, then the right one (the login page has no
navigation); a module that does not compile and its error; one that does,
deployed; a test event with its response and log line, offered for the
function's own triggers only; a request from outside appearing in the
function's live log; a route's parameters filled in its test event; the
history filtered by function, an invocation's detail; the header on a
phone-sized screen. Screenshots of each page go to the directory given.

Usage: drive.py URL TOKEN GOOD_WASM BAD_WASM SCREENSHOT_DIR GATEWAY_URL
"""
import json
import sys
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browser import Browser

url, token, good_wasm, bad_wasm, shots, gateway = sys.argv[1:7]

browser = Browser(url, shots)
driver, wait = browser.driver, browser.wait
by_id, text_in, shot, go = browser.by_id, browser.text_in, browser.shot, browser.go


def offered():
    return [option.text for option in Select(by_id("event-trigger")).options]


def no_navigation():
    for name in ("nav", "logout"):
        assert not driver.find_element(By.ID, name).is_displayed(), name + " shown on the login page"


def history_functions():
    """The function of each row of the history, read at once (the table
    is replaced when its filter changes)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#history tr.invocation td:nth-child(2)'),"
        " (cell) => cell.textContent)")


def run_sample():
    """Runs the test event as prefilled; its response as JSON."""
    by_id("run-event").click()
    return json.loads(text_in("event-response", "statusCode"))


try:
    driver.get(url + "/")
    by_id("token").send_keys("wrong-token-0123456789")
    no_navigation()
    by_id("login-button").click()
    text_in("login-error", "not this fenn's token")
    no_navigation()
    shot("login")
    by_id("token").clear()
    by_id("token").send_keys(token)
    by_id("login-button").click()
    text_in("functions", "hello")

    go("#/deploy")
    by_id("new-name").send_keys("sensor")
    definition = by_id("def-json")
    definition.clear()
    definition.send_keys(json.dumps({"http": [{"route": "/sensor"}]}))
    by_id("module-file").send_keys(bad_wasm)
    by_id("compile").click()
    error = text_in("compile-error", "Does not compile")
    assert "end-of-file" in error or "unexpected" in error, error
    assert not by_id("deploy").is_enabled(), "deploy is offered for a module that does not compile"
    shot("deploy-error")

    by_id("module-file").send_keys(good_wasm)
    by_id("compile").click()
    text_in("compile-ok", "Compiles")
    by_id("deploy").click()
    text_in("deploy-result", "Deployed sensor version 1")
    shot("deploy")

    go("#/f/sensor")
    assert offered() == ["an HTTP event: GET /sensor"], offered()
    text_in("live-state", "live")
    event = by_id("event-json")
    sample = json.loads(event.get_attribute("value"))
    assert sample["path"] == "/sensor", sample
    sample["body"] = json.dumps({"celsius": 99})
    driver.execute_script("arguments[0].value = arguments[1]", event, json.dumps(sample, indent=2))
    by_id("run-event").click()
    response = text_in("event-response", "alert")
    assert '\\"alert\\":true' in response, response
    text_in("event-logs", "reading 99 °C is over 30 °C")
    # A request from outside, while the page is open: its line appears
    # in the live log at the top.
    reading = urllib.request.Request(gateway + "/sensor", data=b'{"celsius": 42}', method="POST")
    with urllib.request.urlopen(reading, timeout=30) as answer:
        assert answer.status == 200, answer.status
    text_in("live-log", "reading 42 °C is over 30 °C")
    newest = driver.find_element(By.CSS_SELECTOR, "#live-log .live-entry")
    assert "http POST /sensor" in newest.text and "42 °C" in newest.text, newest.text
    shot("function")

    # A function with a store: its keys, and a value on a click.
    go("#/f/counter")
    text_in("kv-keys", "notifications")
    driver.find_element(By.CSS_SELECTOR, "#kv-keys a").click()
    assert text_in("kv-value", "1").strip() == "1"
    shot("store")

    go("#/f/hello")
    assert offered() == ["an HTTP event: GET /hello", "a cron event: heartbeat (every 1h)"], offered()
    with urllib.request.urlopen(gateway + "/hello", timeout=30) as answer:
        assert answer.status == 200, answer.status
    text_in("live-log", "http GET /hello")

    go("#/f/greet")
    sample = json.loads(by_id("event-json").get_attribute("value"))
    assert sample["path"] == "/greet/who" and sample["pathParameters"] == {"who": "who"}, sample
    echoed = json.loads(run_sample()["body"])
    assert echoed["pathParameters"] == {"who": "who"}, echoed
    # What a function answers is shown as text, never run as HTML.
    sample["pathParameters"]["who"] = '<img id="injected" src="/x">'
    driver.execute_script("arguments[0].value = arguments[1]", by_id("event-json"), json.dumps(sample))
    echoed = json.loads(run_sample()["body"])
    assert echoed["pathParameters"]["who"].startswith("<img"), echoed
    assert not driver.find_elements(By.ID, "injected"), "a response became HTML"

    go("#/history")
    wait.until(lambda _: {"sensor", "hello", "greet"} <= set(history_functions()))
    Select(by_id("function-filter")).select_by_value("sensor")
    wait.until(lambda _: set(history_functions()) == {"sensor"})
    rows = driver.find_elements(By.CSS_SELECTOR, "#history tr.invocation")
    assert len(rows) == 2 and "POST /sensor" in rows[0].text, rows[0].text
    rows[0].click()
    text_in("invocation-detail", "reading 42 °C is over 30 °C")
    shot("history")

    go("#/")
    text_in("functions", "sensor")
    shot("functions")

    # A phone: the header wraps rather than clips, the page does not
    # scroll sideways.
    driver.set_window_size(390, 844)
    go("#/")
    text_in("functions", "sensor")
    fits = driver.execute_script(
        "const width = document.documentElement.clientWidth;"
        "return document.getElementById('logout').getBoundingClientRect().right <= width"
        " && document.documentElement.scrollWidth <= width;")
    assert fits, "the header or the page is wider than a 390 px screen"
    shot("narrow")
    # The detail of a row clicked is below the table there, past the
    # screen's bottom when the table is long: it is scrolled to.
    for _ in range(12):
        with urllib.request.urlopen(gateway + "/hello", timeout=30) as answer:
            assert answer.status == 200, answer.status
    go("#/history?function=hello")
    by_id("history").find_element(By.CSS_SELECTOR, "tr.invocation").click()
    text_in("invocation-detail", "http GET /hello")
    seen = driver.execute_script(
        "const box = document.getElementById('invocation-detail').getBoundingClientRect();"
        "return box.top >= 0 && box.top < window.innerHeight;")
    assert seen, "the invocation's detail is off the screen"
    shot("narrow-history")
    print("console: every step passed")
except Exception:
    browser.failed()
    raise
finally:
    driver.quit()
