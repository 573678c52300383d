#!/usr/bin/env node
import "../dist/v8-flags.js";
import "../dist/main.js";
