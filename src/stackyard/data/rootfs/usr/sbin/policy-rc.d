#!/bin/sh
# Package scripts must never start services while an image is built.
exit 101
