"""Reports how long each phase of the outside-the-repository tests took (the tests record them as properties)."""


def pytest_terminal_summary(terminalreporter):
    reports = terminalreporter.getreports("passed") + terminalreporter.getreports("failed")
    timings = [(name, value) for report in reports if "test_outside_repo" in report.nodeid
               for name, value in report.user_properties]
    if timings:
        terminalreporter.section("outside the repository: seconds per phase")
        for name, seconds in timings:
            terminalreporter.write_line(f"{name:>32}: {seconds:6.1f}")
