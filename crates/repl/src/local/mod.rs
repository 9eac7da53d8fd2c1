//! The ZFS-backed endpoints: [`LocalSender`] and [`LocalReceiver`] over [`zferry_zfs::Zfs`].
//!
//! Both own their lane's abstractions (see [`crate::abstractions`]) and never touch other lanes'
//! holds or bookmarks, nor users'.

mod common;
pub mod inventory;
mod receiver;
mod sender;

pub use receiver::{LocalReceiver, PlaceholderEncryption, RecvOptions};
pub use sender::{LocalSender, SendOptions};
