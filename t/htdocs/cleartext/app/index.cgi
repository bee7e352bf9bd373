#!/bin/sh
# the front controller of t/cleartext_leaks.t: its output names it (the
# marker is split here, so that this file's own text never contains it)
printf 'Content-Type: text/plain\r\n\r\n'
printf 'TLS-ONLY-APP-%s\n' 'MARKER-c9e1'
