#!/usr/bin/env python3
"""Drives the console's flows page in headless Chromium, as a person would:
the flows listed, one chosen and its graph drawn (a box per step with its
function, the error edge dashed, a condition in its arrow's title and
listed below, the step that answers marked), its runs listed, a run
chosen and its path coloured over the graph (steps done and skipped, the
arrows into a skipped step greyed) with each step's state and note and
its invocations' log lines; another run chosen, the graph repainted; a
condition holding a tag shown as text; the page on a phone-sized screen.

Usage: flows.py URL TOKEN SCREENSHOT_DIR HOT_RUN COLD_RUN
"""
import sys

from selenium.webdriver.common.by import By

from browser import Browser

url, token, shots, hot, cold = sys.argv[1:6]
CONDITION = 'body.celsius < 0 || body.sensor == "<frost>"'

browser = Browser(url, shots)
driver, wait = browser.driver, browser.wait
by_id, text_in = browser.by_id, browser.text_in


def boxes():
    """Each step box of the graph: its name, function, state line and
    classes, read at once (a run chosen repaints them)."""
    return driver.execute_script(
        "const boxes = {};"
        "for (const box of document.querySelectorAll('#flow-graph g.step')) boxes[box.dataset.step] = {"
        " name: box.querySelector('text.name').textContent,"
        " function: box.querySelector('text.function').textContent,"
        " state: box.querySelector('text.state').textContent,"
        " classes: Array.from(box.classList) };"
        "return boxes;")


def edge(source, target):
    return driver.find_element(
        By.CSS_SELECTOR, f'#flow-graph g.edge[data-from="{source}"][data-to="{target}"]')


def classes(element):
    return set(element.get_attribute("class").split())


def states():
    return {name: box["state"] for name, box in boxes().items()}


def step_row(name):
    return driver.find_element(By.CSS_SELECTOR, f'#run-steps tr[data-step="{name}"]').text


try:
    browser.log_in(token)
    text_in("nav", "Flows")
    driver.find_element(By.LINK_TEXT, "Flows").click()
    text_in("flows", "reading")
    assert "POST /reading" in by_id("flows").text, by_id("flows").text
    driver.find_element(By.CSS_SELECTOR, "#flows a").click()
    by_id("flow-graph")

    drawn = boxes()
    assert set(drawn) == {"check", "record", "freeze", "alarm", "reply"}, drawn
    functions = {name: box["function"] for name, box in drawn.items()}
    assert functions == {"check": "sensor", "record": "echo", "freeze": "hello",
                         "alarm": "echo", "reply": "hello"}, functions
    assert all(name == box["name"] for name, box in drawn.items()), drawn
    assert "response" in drawn["reply"]["classes"], drawn["reply"]
    assert set(states().values()) == {""}, "states shown before a run is chosen"
    assert "error" in classes(edge("check", "alarm")), "the on_error edge is not drawn as one"
    assert "error" not in classes(edge("check", "record"))
    title = edge("check", "freeze").find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert title == "check → freeze, when " + CONDITION, title
    text_in("flow-conditions", "check → freeze, when " + CONDITION)

    # Both runs listed; the hot one chosen: its path over the graph.
    text_in("runs", hot)
    assert cold in by_id("runs").text, by_id("runs").text
    hot_row = driver.find_element(By.CSS_SELECTOR, f'#runs tr[data-run="{hot}"]')
    assert "ok" in hot_row.text and "2 skipped" in hot_row.text, hot_row.text
    hot_row.click()
    wait.until(lambda _: states()["freeze"] == "skipped")
    expected = {"check": "done", "record": "done", "reply": "done", "freeze": "skipped", "alarm": "skipped"}
    assert states() == expected, states()
    drawn = boxes()
    assert all(expected[name] in box["classes"] for name, box in drawn.items()), drawn
    assert "off" in classes(edge("check", "freeze")), "the arrow into a skipped step is not greyed"
    assert "off" in classes(edge("freeze", "reply")), "an arrow out of a skipped step is not greyed"
    assert "off" in classes(edge("check", "alarm")), "a done step's error edge is not greyed"
    assert "off" not in classes(edge("record", "reply")), "an arrow taken is greyed"
    text_in("graph-caption", "Run " + hot)
    text_in("run-detail", "Run " + hot)
    freeze = step_row("freeze")
    assert "skipped" in freeze and CONDITION + " did not hold on 'check'" in freeze, freeze
    assert step_row("check").split()[:4] == ["check", "sensor", "done", "1"], step_row("check")
    text_in("run-invocations", "reading 42 °C is over 30 °C")
    invoked = by_id("run-invocations").text
    for name in ("check", "record", "reply"):
        assert name in invoked, invoked
    assert "freeze" not in invoked, "a skipped step shows an invocation"
    assert not driver.find_elements(By.TAG_NAME, "frost"), "a condition became HTML"
    browser.shot("flow")

    # The cold run: the branch behind the condition ran this time.
    driver.find_element(By.CSS_SELECTOR, f'#runs tr[data-run="{cold}"]').click()
    wait.until(lambda _: states()["freeze"] == "done")
    assert states() == {**expected, "freeze": "done"}, states()
    assert "off" not in classes(edge("check", "freeze"))
    text_in("run-detail", "Run " + cold)
    assert "reading 42" not in by_id("run-invocations").text

    # A phone: the graph and the tables scroll in their cards, the page
    # does not scroll sideways.
    driver.set_window_size(390, 844)
    fits = driver.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;")
    assert fits, "the flows' page is wider than a 390 px screen"
    print("console flows: every step passed")
except Exception:
    browser.failed()
    raise
finally:
    driver.quit()
