//! Event files: written synchronously, and failures are errors that name the file.

use prefrontal_board::{Board, BoardError, HParam};

#[test]
fn every_summary_kind_lands_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut board = Board::create(dir.path()).unwrap();
    let empty = std::fs::metadata(board.path()).unwrap().len();
    board.scalar("train/loss", 0.5, 1).unwrap();
    board
        .image("eval/frame", 1, 2, 1, &[255, 0, 0, 0, 255, 0])
        .unwrap();
    board.text("experiment", 0, "    (name: \"x\")").unwrap();
    board
        .hparams_start(&[("lr".into(), HParam::Number(0.001))])
        .unwrap();
    board.hparams_end(true).unwrap();
    board.flush().unwrap();
    assert!(std::fs::metadata(board.path()).unwrap().len() > empty + 100);
    let wrong = board.image("eval/frame", 1, 2, 2, &[0; 6]).unwrap_err();
    assert!(wrong.to_string().contains("eval/frame"), "{wrong}");
}

#[test]
fn a_removed_folder_is_an_error_naming_the_file_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut board = Board::create(&run).unwrap();
    let path = board.path().to_owned();
    std::fs::remove_dir_all(&run).unwrap();
    board.scalar("train/loss", 1.0, 2).unwrap();
    let error = board.flush().unwrap_err();
    assert!(matches!(error, BoardError::Io { .. }));
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

#[test]
fn an_unwritable_folder_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let error = Board::create(file.join("run")).unwrap_err();
    assert!(error.to_string().contains("a-file"), "{error}");
}
