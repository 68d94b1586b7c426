# `cpack -G DEB` in a build directory (after building it): updraft_<version>_<arch>.deb
# with the binary, the man page, the docs, the systemd unit and /etc/updraft/updraft.conf
# (a conffile), a postinst that creates the `updraft` system user and starts the service.
# docs/operations.md "Debian package"; tests/server/test_package.py checks the package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME updraft)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "updraft maintainers <updraft@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "self-hosted OTA firmware update server for ESP8266 and ESP32 fleets")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "updraft serves firmware to unmodified ESP8266 and ESP32 devices (Arduino httpUpdate, "
       "esp_https_ota, esp32FOTA), decides per device what it gets, and keeps a registry of "
       "the fleet. Runs as a systemd service (Type=notify) with Prometheus metrics.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# every component (the default one and the service files, which a plain install leaves
# out) in one package
set(CPACK_COMPONENTS_ALL Unspecified service)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
