/**
 * The message type bytes the session layer dispatches on ("Message Formats"), as numbers: the
 * tracker switches on the byte (`code.charCodeAt(0)`), a small integer that a switch jumps on
 * directly, where a switch on the one-letter strings compares them case by case. Startup-phase
 * messages have no type byte: NO_CODE.
 */
export const NO_CODE = -1;

/** Frontend messages. */
export const enum FrontendCode {
  Bind = 0x42, // B
  Close = 0x43, // C
  Describe = 0x44, // D
  Execute = 0x45, // E
  FunctionCall = 0x46, // F
  Parse = 0x50, // P
  Query = 0x51, // Q
  Sync = 0x53, // S
  Terminate = 0x58, // X
  CopyData = 0x64, // d
  CopyFail = 0x66, // f
  PasswordMessage = 0x70, // p (and the other authentication responses)
}

/** Backend messages. */
export const enum BackendCode {
  ParseComplete = 0x31, // 1
  BindComplete = 0x32, // 2
  CloseComplete = 0x33, // 3
  NotificationResponse = 0x41, // A
  CommandComplete = 0x43, // C
  DataRow = 0x44, // D
  ErrorResponse = 0x45, // E
  CopyInResponse = 0x47, // G
  CopyOutResponse = 0x48, // H
  EmptyQueryResponse = 0x49, // I
  BackendKeyData = 0x4b, // K
  NoticeResponse = 0x4e, // N
  Authentication = 0x52, // R
  ParameterStatus = 0x53, // S
  RowDescription = 0x54, // T
  FunctionCallResponse = 0x56, // V
  CopyBothResponse = 0x57, // W
  ReadyForQuery = 0x5a, // Z
  CopyDone = 0x63, // c
  CopyData = 0x64, // d
  NoData = 0x6e, // n
  PortalSuspended = 0x73, // s
  ParameterDescription = 0x74, // t
  NegotiateProtocolVersion = 0x76, // v
}
