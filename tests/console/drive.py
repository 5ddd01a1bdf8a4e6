#!/usr/bin/env python3
"""Drives fenn's web console in headless Chromium through WebDriver, as a
person would: a wrong token, then the right one; a module that does not
compile and its error; one that does, deployed; a test event with its
response and log line; the invocation in the history. Screenshots of each
page go to the directory given.

Usage: drive.py URL TOKEN GOOD_WASM BAD_WASM SCREENSHOT_DIR
"""
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shows
from selenium.webdriver.support.ui import WebDriverWait

url, token, good_wasm, bad_wasm, shots = sys.argv[1:6]

options = webdriver.ChromeOptions()
options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1280,960"):
    options.add_argument(argument)
service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
driver = webdriver.Chrome(service=service, options=options)
wait = WebDriverWait(driver, 30)


def by_id(name):
    return wait.until(shows.visibility_of_element_located((By.ID, name)))


def text_in(name, text):
    wait.until(shows.text_to_be_present_in_element((By.ID, name), text))
    return driver.find_element(By.ID, name).text


def shot(name):
    driver.save_screenshot(os.path.join(shots, name + ".png"))


def go(fragment):
    driver.get(url + "/" + fragment)
    driver.refresh()


try:
    driver.get(url + "/")
    by_id("token").send_keys("wrong-token-0123456789")
    by_id("login-button").click()
    text_in("login-error", "not this fenn's token")
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
    event = by_id("event-json")
    sample = json.loads(event.get_attribute("value"))
    assert sample["path"] == "/sensor", sample
    sample["body"] = json.dumps({"celsius": 99})
    driver.execute_script("arguments[0].value = arguments[1]", event, json.dumps(sample, indent=2))
    by_id("run-event").click()
    response = text_in("event-response", "alert")
    assert '\\"alert\\":true' in response, response
    text_in("event-logs", "reading 99 °C is over 30 °C")
    shot("function")

    go("#/history")
    wait.until(shows.presence_of_element_located((By.CSS_SELECTOR, "#history tr.invocation")))
    rows = driver.find_elements(By.CSS_SELECTOR, "#history tr.invocation")
    assert "sensor" in rows[0].text and "test" in rows[0].text, rows[0].text
    rows[0].click()
    text_in("invocation-detail", "reading 99 °C is over 30 °C")
    shot("history")

    go("#/")
    text_in("functions", "sensor")
    shot("functions")
    print("console: every step passed")
except Exception:
    shot("failure")
    print("page when it failed:\n" + driver.find_element(By.TAG_NAME, "body").text, file=sys.stderr)
    for entry in driver.get_log("browser"):
        print("browser: " + str(entry), file=sys.stderr)
    raise
finally:
    driver.quit()
