/**
 * The `match` object of filters.md: `readMatch` parses it once through the config
 * reader; `RequestMatch.matches` evaluates it against a `RequestHeaders` view.
 */
export { HeaderMatch, HeaderMatchKind, MATCH_FIELDS, RequestMatch, isToken, pathLength, readMatch, readMatchObject } from "./match";
export { HeaderList, RequestHeaders, isGrpcContentType, isGrpcContentTypeAt } from "./request";
