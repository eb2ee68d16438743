// Package browsertest drives a real browser, Debian's Chromium, for tests
// of ecrd's web console and of any other page ecrd serves.
//
// Start launches one headless Chromium per call through chromedp's exec
// allocator, talking the DevTools protocol over a pipe (no debugging
// port is opened). The browser gets a new, empty profile (and HOME) under
// the test's temporary folder, a 1280x900 window, chromedp's default flags
// (no extensions, no throttling of background tabs) and flags that keep it
// from reaching the network on its own (no background networking,
// component updates, sync or QUIC): the machines the tests run on have no
// internet, and a test must not wait on one. --no-sandbox is there because the
// tests run as root, where Chromium refuses to start sandboxed. The
// binary is /usr/bin/chromium, or $ECRD_CHROMIUM; when it is missing the
// test fails, saying to run scripts/install-test-tools. The test's
// cleanup closes every tab and the browser, and kills any of its child
// processes still running, before the profile folder is removed.
//
// A tab is a chromedp context: Browser.NewTab opens one in the browser's
// default profile, so all of them share cookies, like the tabs of one
// user; Browser.NewIncognito opens a tab in a new, empty browser context,
// a second user with no cookies; Browser.NewSiblingTab opens another tab
// beside a given one, sharing its cookies. chromedp's own actions work on
// these contexts, and the functions here wrap the ones console tests need
// (Navigate, Text, Count, Fill, Select, Click, ClickAndWait, Submit, URL,
// Status, Cookie, PostForm, Screenshot). Each of them is bounded
// by Browser.Timeout (DefaultTimeout, 30 seconds), so a page that hangs
// fails the test instead of hanging the run; when a test fails, a
// screenshot of each of its open tabs is saved. A tab is for one goroutine
// at a time; parallel subtests may share a browser with a tab each, but
// JSErrors and Console reach every tab, so call them when the others are
// done. WaitVisible is there too, and chromedp's own actions (Do and Run
// with any chromedp.Action, or chromedp.Run directly without the bound)
// cover the rest.
//
// Every tab reports what the page wrote to its console: calls of the
// console API, uncaught exceptions and the browser's own log (where a
// Content-Security-Policy violation is reported). Browser.Console returns
// all of it and Browser.JSErrors the errors, so a test can assert that a
// page ran without script errors or CSP violations. Failed loads
// (Chromium logs "Failed to load resource" for every 4xx answer, a 403
// page or a missing favicon alike) are left out of JSErrors: a test
// checks statuses with Status.
//
// Screenshots are written, as <TestName>-<name>.png, to $ECRD_TEST_ARTIFACTS
// if it is set, else to test/artifacts/screenshots in the repository
// (ignored by git); a test that fails also leaves one per open tab there.
package browsertest
