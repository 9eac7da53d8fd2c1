//! The wire protocol and transports (tcp, tls, ssh+stdinserver, local).
