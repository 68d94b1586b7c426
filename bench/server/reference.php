<?php
// The reference update server of shared/spec/esp8266-http-update.md section 6 (the PHP
// server the ESP8266 core's documentation describes), written for the benchmark as a
// router script for PHP's built-in server:
//
//   REF_MAC=DE:BA:7A:B1:E0:42 REF_FILE=/path/fw.bin REF_VERSION=2.0.0 \
//     php -S 127.0.0.1:PORT reference.php
//
// One device table entry {STA-MAC: {file, version}} comes from the environment (the
// published script keeps the table inline; its printed table does not parse, spec
// section 8). Behaviour, in the spec's order:
//   1. 403 unless User-Agent is ESP8266-http-Update, or if any of mode, STA-MAC,
//      AP-MAC, free-space, sketch-size, sketch-md5, chip-size, sdk-version is missing;
//   2. unknown STA-MAC: 404;
//   3. mode sketch: x-ESP8266-version differs from the table's version -> 200 with the
//      file (Content-Type, Content-Disposition, Content-Length, lowercase x-MD5,
//      x-version), else 304;
//   4. mode version: 200 with x-MD5 and x-version, no body; any other mode: 404.
// PHP hands headers over as $_SERVER['HTTP_X_ESP8266_...'], which already matches
// names case-insensitively.

function esp_header(string $name): ?string
{
    $key = 'HTTP_' . strtoupper(str_replace('-', '_', $name));
    return isset($_SERVER[$key]) ? (string)$_SERVER[$key] : null;
}

function answer(int $status, string $text = ''): void
{
    http_response_code($status);
    header('Content-Type: text/plain');
    echo $text;
}

$table = [
    strtoupper((string)getenv('REF_MAC')) => [
        'file' => (string)getenv('REF_FILE'),
        'version' => (string)getenv('REF_VERSION'),
    ],
];

if (($_SERVER['HTTP_USER_AGENT'] ?? '') !== 'ESP8266-http-Update') {
    answer(403, "only for ESP8266 updater\n");
    return true;
}
foreach (['mode', 'STA-MAC', 'AP-MAC', 'free-space', 'sketch-size', 'sketch-md5',
          'chip-size', 'sdk-version'] as $h) {
    if (esp_header('x-ESP8266-' . $h) === null) {
        answer(403, "only for ESP8266 updater (missing x-ESP8266-$h)\n");
        return true;
    }
}
$mac = strtoupper(esp_header('x-ESP8266-STA-MAC'));
if (!isset($table[$mac])) {
    answer(404, "no firmware for this device\n");
    return true;
}
$entry = $table[$mac];
$mode = esp_header('x-ESP8266-mode');
if ($mode === 'sketch') {
    if (esp_header('x-ESP8266-version') !== $entry['version']) {
        $file = $entry['file'];
        header('Content-Type: application/octet-stream', true);
        header('Content-Disposition: attachment; filename=' . basename($file));
        header('Content-Length: ' . filesize($file), true);
        header('x-MD5: ' . md5_file($file), true);
        header('x-version: ' . $entry['version']);
        readfile($file);
    } else {
        http_response_code(304);
    }
    return true;
}
if ($mode === 'version') {
    header('x-MD5: ' . md5_file($entry['file']));
    header('x-version: ' . $entry['version']);
    return true;
}
answer(404, "unknown mode\n");
return true;
