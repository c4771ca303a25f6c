// Validates an OpenAPI document against the OpenAPI Initiative's published
// JSON Schema for its version, using a validator we did not write.
// usage: node validate_openapi.mjs FILE   (exit 0 valid, 1 invalid, 2 usage)
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: validate_openapi.mjs FILE");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, "utf8"));
const validator = new Validator();
const res = await validator.validate(doc);
if (!res.valid) {
  console.error(`invalid OpenAPI ${validator.version}:`);
  console.error(JSON.stringify(res.errors, null, 2));
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}`);
