//! The image RPCs of the gRPC control API end to end (see `grpc_support`): RegisterImage from
//! PNG bytes and from a file under the server's image directory, RemoveImage, each refusal
//! with its exact status and the session unchanged after it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use grpc_support::*;
use pb::register_image_request::Source;
use proto::v1 as pb;
use tonic::Code;

/// A RegisterImage in session "s1".
fn reg(id: &str, source: Option<Source>) -> pb::RegisterImageRequest {
    pb::RegisterImageRequest {
        session_id: "s1".into(),
        image_id: id.into(),
        source,
    }
}

/// Registers "logo" (64x32, PNG bytes) and "bg" (16x16, a file in the image directory).
async fn register_logo_and_bg(server: &Server, c: &mut Client) {
    let img = c
        .register_image(reg(
            "logo",
            Some(Source::Data(png_bytes(64, 32, [0, 255, 0, 255]))),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((img.width, img.height), (64, 32));
    std::fs::write(
        server.image_dir.join("bg.png"),
        png_bytes(16, 16, [0, 0, 255, 255]),
    )
    .unwrap();
    let img = c
        .register_image(reg("bg", Some(Source::ServerPath("bg.png".into()))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((img.width, img.height), (16, 16));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_image_decodes_png_data_and_files_under_the_image_dir() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    register_logo_and_bg(&server, &mut c).await;
    let s = session_state(&mut c, "s1").await;
    let mut ids = s.image_ids.clone();
    ids.sort();
    assert_eq!(ids, vec!["bg".to_string(), "logo".to_string()]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_image_refuses_bad_data_missing_sources_and_escaping_paths_changing_nothing() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    register_logo_and_bg(&server, &mut c).await;
    let before = session_state(&mut c, "s1").await;
    refused(
        c.register_image(reg("x", Some(Source::Data(b"not an image".to_vec()))))
            .await,
        Code::InvalidArgument,
        "data: cannot decode",
    );
    refused(
        c.register_image(reg("x", Some(Source::Data(Vec::new()))))
            .await,
        Code::InvalidArgument,
        "data: must not be empty",
    );
    refused(
        c.register_image(reg("x", None)).await,
        Code::InvalidArgument,
        "source: is required",
    );
    refused(
        c.register_image(reg("x", Some(Source::ServerPath("../etc/passwd".into()))))
            .await,
        Code::InvalidArgument,
        "server_path: must be relative",
    );
    refused(
        c.register_image(reg("x", Some(Source::ServerPath("/etc/passwd".into()))))
            .await,
        Code::InvalidArgument,
        "server_path: must be relative",
    );
    refused(
        c.register_image(reg("x", Some(Source::ServerPath("missing.png".into()))))
            .await,
        Code::NotFound,
        "missing.png",
    );
    assert_eq!(
        session_state(&mut c, "s1").await,
        before,
        "refused RegisterImage changed the session"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_image_refuses_an_image_in_the_scene_or_unknown_and_removes_an_unused_one() {
    let server = Server::start().await;
    let mut c = server.client().await;
    c.create_session(small("s1")).await.unwrap();
    add_inputs(&mut c, "s1", &["host-a"]).await;
    register_logo_and_bg(&server, &mut c).await;
    let mut with_bg = grid(&["host-a"]);
    with_bg.background = Some(pb::Background {
        color: None,
        image_id: "bg".into(),
    });
    c.set_layout(set_layout("s1", with_bg)).await.unwrap();
    let rm = |id: &str| pb::RemoveImageRequest {
        session_id: "s1".into(),
        image_id: id.into(),
    };
    refused(
        c.remove_image(rm("bg")).await,
        Code::FailedPrecondition,
        "in the current scene",
    );
    refused(
        c.remove_image(rm("nope")).await,
        Code::NotFound,
        "image \"nope\"",
    );
    c.remove_image(rm("logo")).await.unwrap();
    let s = session_state(&mut c, "s1").await;
    assert_eq!(s.image_ids, vec!["bg".to_string()]);
    server.stop().await;
}
