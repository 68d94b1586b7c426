# `cmake --install BUILD [--prefix DIR]`: the updraft binary (bin/), its man page
# (share/man/man1/updraft.1, generated at build time from the binary's --help texts by
# tools/gen-man.py, so page and command never disagree) and the documentation
# (share/doc/updraft/: README.md and docs/*.md). Prefix default: /usr/local.
include(GNUInstallDirs)
find_package(Python3 COMPONENTS Interpreter REQUIRED)
set(UPD_MAN_PAGE ${CMAKE_BINARY_DIR}/updraft.1)
add_custom_command(
  OUTPUT ${UPD_MAN_PAGE}
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/gen-man.py $<TARGET_FILE:updraft>
          ${UPD_MAN_PAGE} ${PROJECT_VERSION}
  DEPENDS updraft ${PROJECT_SOURCE_DIR}/tools/gen-man.py
  COMMENT "Generating updraft.1 from the --help texts"
  VERBATIM)
add_custom_target(updraft-man ALL DEPENDS ${UPD_MAN_PAGE})
install(TARGETS updraft RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${UPD_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
file(GLOB UPD_DOC_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${UPD_DOC_PAGES} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The service files, only in the Debian package (cmake/package.cmake), never in a plain
# `cmake --install` (which must not write to /etc): the systemd unit and the configuration
# file, generated from the binary's own option table (`updraft serve --print-config`), so
# it names every key the installed binary knows.
set(UPD_PACKAGE_CONF ${CMAKE_BINARY_DIR}/updraft.conf)
add_custom_command(
  OUTPUT ${UPD_PACKAGE_CONF}
  COMMAND $<TARGET_FILE:updraft> serve --data /var/lib/updraft --listen 0.0.0.0:8080
          --print-config > ${UPD_PACKAGE_CONF}
  DEPENDS updraft
  COMMENT "Generating updraft.conf from the serve options"
  VERBATIM)
add_custom_target(updraft-conf ALL DEPENDS ${UPD_PACKAGE_CONF})
install(FILES ${PROJECT_SOURCE_DIR}/contrib/systemd/updraft.service
        DESTINATION lib/systemd/system COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${UPD_PACKAGE_CONF} DESTINATION /etc/updraft COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/contrib/grafana/updraft-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/contrib COMPONENT service EXCLUDE_FROM_ALL)
include(${PROJECT_SOURCE_DIR}/cmake/package.cmake)
