/** A value that `JSON.stringify` encodes losslessly and `JSON.parse` gives back unchanged. */
export type JsonPrimitive = null | boolean | number | string;
export type JsonArray = JsonValue[];
export interface JsonObject {
  [key: string]: JsonValue;
}
export type JsonValue = JsonPrimitive | JsonArray | JsonObject;
