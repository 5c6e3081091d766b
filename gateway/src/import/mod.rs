//! `weft import`: a first schema drafted from what a service already
//! describes, printed as SDL with weft's directives, to read, trim and
//! rename before serving it. One module per kind of description:
//! [`grpc`] (`.proto` files, or gRPC server reflection).

pub mod grpc;
