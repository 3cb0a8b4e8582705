//! The README's first command, run as a new user would: the real `pulso` binary, `pulso demo`
//! reading a script from a pipe in an empty folder.

use std::io::Write;
use std::process::{Command, Stdio};

fn demo(dir: &std::path::Path, script: &str) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulso"))
        .arg("demo")
        .current_dir(dir)
        .env_remove("PULSO__DATABASE__URL")
        .env_remove("PULSO__SECURITY__TOKEN_KEY")
        .env_remove("PULSO__TELEGRAM__TOKEN")
        .env_remove("PULSO__DISCORD__TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn the_demo_syncs_answers_and_keeps_its_data_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = demo(
        dir.path(),
        "/actualizar\n/ranking mes\n/metricas José semana\n/exportar semana\n/hola\n",
    );
    assert!(out.contains("Sincronizados: 18/20"), "{out}");
    assert!(out.contains("Renée Montaño: la página ya no existe"), "{out}");
    assert!(out.contains("🏆 Ranking · Último mes"), "{out}");
    assert!(out.contains("📊 José Núñez · Última semana"), "{out}");
    assert!(out.contains("Última actualización: hace un momento"), "{out}");
    assert!(out.contains("No conozco el comando /hola"), "{out}");
    assert!(!out.contains("panicked") && !err.contains("panicked"), "{err}");
    // The first bulk sync posts its summaries to the team channel, which the console prints.
    assert!(
        out.contains("📣 [equipo] 🏁 Sincronización del equipo terminada"),
        "{out}"
    );
    assert!(out.contains("📅 Resumen semanal"), "{out}");
    assert!(out.contains("🗓️ Resumen mensual"), "{out}");
    let files: Vec<_> = std::fs::read_dir(dir.path().join("data/salida"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    for chart in ["_ranking_mes.png", "_ranking_semanal.png", "_ranking_mensual.png"] {
        let path = files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(chart))
            .unwrap_or_else(|| panic!("no {chart} in {files:?}"));
        let png = std::fs::read(path).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
    let csv = std::fs::read_dir(dir.path().join("data/salida"))
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "csv"))
        .expect("a CSV export");
    let csv = std::fs::read(csv.path()).unwrap();
    assert!(csv.starts_with("\u{feff}agente,fecha".as_bytes()));
    // The key file is private and tokens are never printed.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/demo-token.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!out.contains("EAAP") && !err.contains("EAAP"), "a token was printed");

    // Second run in the same folder: same agents, data kept, the hourly throttle remembered.
    let (again, _) = demo(dir.path(), "/actualizar\n/agentes\n");
    assert!(again.contains("Podrás volver a actualizar en"), "{again}");
    assert!(again.contains("👥 Agentes (20)"), "{again}");
}

/// `/conectar` in the demo: the link (a plain URL on its own line) opens the sandbox's Facebook
/// Login, which sends the browser back to the demo's own HTTP server; the agent confirms the Page
/// with `/conectar confirmar` and is connected and synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_connects_a_page_from_the_demo_through_the_sandbox_login() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pulso"))
        .args(["demo", "--as", "José Núñez"])
        .current_dir(dir.path())
        .env_remove("PULSO__DATABASE__URL")
        .env_remove("PULSO__SECURITY__TOKEN_KEY")
        .env_remove("PULSO__TELEGRAM__TOKEN")
        .env_remove("PULSO__DISCORD__TOKEN")
        .env_remove("PULSO__HTTP__LISTEN")
        .env_remove("PULSO__HTTP__PUBLIC_URL")
        .env_remove("PULSO__FACEBOOK__APP_SECRET")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    stdin.write_all(b"/conectar\n").await.unwrap();
    let link = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("/dialog/oauth?") {
                return line.trim().to_string();
            }
        }
        panic!("the demo ended without a link");
    })
    .await
    .expect("a /conectar link");
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200, "{}", page.url());
    assert!(page.text().await.unwrap().contains("Confirma en el chat"));

    stdin.write_all(b"/conectar confirmar\n/mis_metricas\n").await.unwrap();
    drop(stdin);
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(child.wait().await.unwrap().success());
    assert!(rest.contains("Página: José Núñez · Bienes Raíces"), "{rest}");
    assert!(rest.contains(": escribe /conectar confirmar"), "{rest}");
    assert!(rest.contains("✅ Página conectada: José Núñez"), "{rest}");
    assert!(rest.contains("📊 José Núñez · Última semana"), "{rest}");
    assert!(rest.contains("📝 Publicaciones destacadas"), "{rest}");
}
