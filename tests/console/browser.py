"""What the console's browser tests share: headless Chromium through
chromedriver (Debian's, or CHROMIUM and CHROMEDRIVER), waits on what the
page shows, and screenshots."""
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shows
from selenium.webdriver.support.ui import WebDriverWait


class Browser:
    """A headless Chromium on the console at `url`, its screenshots in
    `shots`."""

    def __init__(self, url, shots):
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,960"):
            options.add_argument(argument)
        service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.wait = WebDriverWait(self.driver, 30)
        self.url = url
        self.shots = shots

    def by_id(self, name):
        return self.wait.until(shows.visibility_of_element_located((By.ID, name)))

    def text_in(self, name, text):
        self.wait.until(shows.text_to_be_present_in_element((By.ID, name), text))
        return self.driver.find_element(By.ID, name).text

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.shots, name + ".png"))

    def go(self, fragment):
        self.driver.get(self.url + "/" + fragment)
        self.driver.refresh()

    def log_in(self, token):
        self.driver.get(self.url + "/")
        self.by_id("token").send_keys(token)
        self.by_id("login-button").click()

    def failed(self):
        """What a person would have seen when a step failed, to stderr."""
        self.shot("failure")
        body = self.driver.find_element(By.TAG_NAME, "body").text
        print("page when it failed:\n" + body, file=sys.stderr)
        for entry in self.driver.get_log("browser"):
            print("browser: " + str(entry), file=sys.stderr)
