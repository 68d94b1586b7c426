# The device client's unit tests (tests/client/<name>.c). They run on the host and on
# lx106 under QEMU (tests/lx106/host.cmake reads this list too).
set(UPD_CLIENT_UNIT_TESTS
  test_client_request
  test_client_parity
  test_client_ext
  test_client_sign
)
