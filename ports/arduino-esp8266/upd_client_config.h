/* The engine's compile-time features in the updraft Arduino library (the Arduino IDE
 * gives a library no -D flags; src/client/client_int.h includes this file when it is
 * beside the sources). Signatures on: a sketch turns them on at run time with
 * Updraft::setSigningKey(), verified with the core's BearSSL RSA (docs/arduino.md,
 * "Signed images"); without a key the engine accepts unsigned images as ESPhttpUpdate
 * does. The inspector stays off (18 KB of code). */
#ifndef UPD_CLIENT_CONFIG_H
#define UPD_CLIENT_CONFIG_H
#define UPD_CLIENT_WITH_SIGN 1
#endif
