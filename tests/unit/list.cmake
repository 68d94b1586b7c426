# The core's unit tests (tests/unit/<name>.c). They run on the host and on lx106.
set(UPD_CORE_UNIT_TESTS
  test_error
  test_imgwriter
  test_version
  test_image
  test_fit
  test_malformed
)
