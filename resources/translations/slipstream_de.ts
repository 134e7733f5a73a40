<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de" sourcelanguage="en">
<context>
    <name>AddGameDialog</name>
    <message>
        <source>Add game</source>
        <translation>Spiel hinzufügen</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Quelle</translation>
    </message>
    <message>
        <source>A repository&apos;s address (https://…), or gog for the games your GOG account owns.</source>
        <translation>Die Adresse eines Repositorys (https://…) oder gog für die Spiele Ihres GOG-Kontos.</translation>
    </message>
    <message>
        <source>Show ga&amp;mes</source>
        <translation>&amp;Spiele anzeigen</translation>
    </message>
    <message>
        <source>List the games this source offers.</source>
        <translation>Die Spiele auflisten, die diese Quelle anbietet.</translation>
    </message>
    <message>
        <source>&amp;Source:</source>
        <translation>&amp;Quelle:</translation>
    </message>
    <message>
        <source>What the dialog is doing</source>
        <translation>Was der Dialog gerade tut</translation>
    </message>
    <message>
        <source>&amp;Retry</source>
        <translation>&amp;Erneut versuchen</translation>
    </message>
    <message>
        <source>Ask the source again.</source>
        <translation>Die Quelle erneut fragen.</translation>
    </message>
    <message>
        <source>Games</source>
        <translation>Spiele</translation>
    </message>
    <message>
        <source>The games this source offers. Pick one.</source>
        <translation>Die Spiele dieser Quelle. Wählen Sie eines aus.</translation>
    </message>
    <message>
        <source>Product id</source>
        <translation>Produkt-ID</translation>
    </message>
    <message>
        <source>Product id, e.g. 1207664643</source>
        <translation>Produkt-ID, z. B. 1207664643</translation>
    </message>
    <message>
        <source>This source lists no games: enter the product id its publisher gave you.</source>
        <translation>Diese Quelle listet keine Spiele: Geben Sie die Produkt-ID ein, die Sie vom Herausgeber erhalten haben.</translation>
    </message>
    <message>
        <source>&amp;Game:</source>
        <translation>S&amp;piel:</translation>
    </message>
    <message>
        <source>System</source>
        <translation>System</translation>
    </message>
    <message>
        <source>Which system&apos;s build to install.</source>
        <translation>Für welches System der Build installiert wird.</translation>
    </message>
    <message>
        <source>S&amp;ystem:</source>
        <translation>S&amp;ystem:</translation>
    </message>
    <message>
        <source>Builds</source>
        <translation>Builds</translation>
    </message>
    <message>
        <source>The game&apos;s builds, newest first; older ones too.</source>
        <translation>Die Builds des Spiels, der neueste zuerst; auch ältere.</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>Version</translation>
    </message>
    <message>
        <source>Branch</source>
        <translation>Zweig</translation>
    </message>
    <message>
        <source>Published</source>
        <translation>Veröffentlicht</translation>
    </message>
    <message>
        <source>Build</source>
        <translation>Build</translation>
    </message>
    <message>
        <source>&amp;Build:</source>
        <translation>&amp;Build:</translation>
    </message>
    <message>
        <source>Branch password</source>
        <translation>Passwort des Zweigs</translation>
    </message>
    <message>
        <source>The password of a private branch (a beta, say) the publisher gave you.</source>
        <translation>Das Passwort eines privaten Zweigs (etwa einer Beta), das Sie vom Herausgeber erhalten haben.</translation>
    </message>
    <message>
        <source>Show &amp;private branches</source>
        <translation>&amp;Private Zweige anzeigen</translation>
    </message>
    <message>
        <source>Branch pass&amp;word:</source>
        <translation>Pass&amp;wort des Zweigs:</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Sprache</translation>
    </message>
    <message>
        <source>The language to install.</source>
        <translation>Die zu installierende Sprache.</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>Spr&amp;ache:</translation>
    </message>
    <message>
        <source>Folder</source>
        <translation>Ordner</translation>
    </message>
    <message>
        <source>An empty folder, or one holding the game&apos;s files (see below).</source>
        <translation>Ein leerer Ordner oder einer mit den Dateien des Spiels (siehe unten).</translation>
    </message>
    <message>
        <source>Br&amp;owse…</source>
        <translation>&amp;Durchsuchen…</translation>
    </message>
    <message>
        <source>&amp;Use the game files already in the folder</source>
        <translation>&amp;Vorhandene Spieldateien im Ordner verwenden</translation>
    </message>
    <message>
        <source>Use the game files already in the folder</source>
        <translation>Vorhandene Spieldateien im Ordner verwenden</translation>
    </message>
    <message>
        <source>Keep files that already match the build and download only the rest.</source>
        <translation>Dateien behalten, die schon zum Build passen, und nur den Rest herunterladen.</translation>
    </message>
    <message>
        <source>&amp;Folder:</source>
        <translation>&amp;Ordner:</translation>
    </message>
    <message>
        <source>What is missing</source>
        <translation>Was noch fehlt</translation>
    </message>
    <message>
        <source>&amp;Install</source>
        <translation>&amp;Installieren</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>Enter a source first.</source>
        <translation>Geben Sie zuerst eine Quelle ein.</translation>
    </message>
    <message>
        <source>Loading the games of {0}…</source>
        <translation>Die Spiele von {0} werden geladen…</translation>
    </message>
    <message>
        <source>Product {0}</source>
        <translation>Produkt {0}</translation>
    </message>
    <message>
        <source>This source lists no games. Enter a product id below and press Enter.</source>
        <translation>Diese Quelle listet keine Spiele. Geben Sie unten eine Produkt-ID ein und drücken Sie die Eingabetaste.</translation>
    </message>
    <message>
        <source>A product id is a number, like 1207664643.</source>
        <translation>Eine Produkt-ID ist eine Zahl, etwa 1207664643.</translation>
    </message>
    <message>
        <source>Loading the builds of {0}…</source>
        <translation>Die Builds von {0} werden geladen…</translation>
    </message>
    <message>
        <source>No private branch opened with that password.</source>
        <translation>Mit diesem Passwort wurde kein privater Zweig freigeschaltet.</translation>
    </message>
    <message>
        <source>default</source>
        <translation>Standard</translation>
    </message>
    <message>
        <source>Reading build {0}…</source>
        <translation>Build {0} wird gelesen…</translation>
    </message>
    <message>
        <source>Enter the branch&apos;s password first.</source>
        <translation>Geben Sie zuerst das Passwort des Zweigs ein.</translation>
    </message>
    <message>
        <source>Install into</source>
        <translation>Installieren in</translation>
    </message>
    <message>
        <source>Pick a game and one of its builds.</source>
        <translation>Wählen Sie ein Spiel und einen seiner Builds.</translation>
    </message>
    <message>
        <source>Choose the folder to install into.</source>
        <translation>Wählen Sie den Ordner, in den installiert wird.</translation>
    </message>
    <message>
        <source>{0} is a file, not a folder.</source>
        <translation>{0} ist eine Datei, kein Ordner.</translation>
    </message>
    <message>
        <source>{0} is not empty. Choose an empty folder, or tick “Use the game files already in the folder”.</source>
        <translation>{0} ist nicht leer. Wählen Sie einen leeren Ordner oder kreuzen Sie „Vorhandene Spieldateien im Ordner verwenden“ an.</translation>
    </message>
    <message>
        <source>Slipstream ran into an internal error ({0}); try again.</source>
        <translation>In Slipstream ist ein interner Fehler aufgetreten ({0}); versuchen Sie es erneut.</translation>
    </message>
</context>
<context>
    <name>App</name>
    <message>
        <source>Something went wrong</source>
        <translation>Etwas ist schiefgegangen</translation>
    </message>
</context>
<context>
    <name>ConflictDialog</name>
    <message>
        <source>{0}: files you changed</source>
        <translation>{0}: von Ihnen geänderte Dateien</translation>
    </message>
    <message numerus="yes">
        <source>The update replaces %n file(s) that differ from the installed build (a mod or an edited setting, perhaps). What should happen to them?</source>
        <translation>
            <numerusform>Die Aktualisierung ersetzt %n Datei, die vom installierten Build abweicht (vielleicht eine Mod oder eine geänderte Einstellung). Was soll mit ihr geschehen?</numerusform>
            <numerusform>Die Aktualisierung ersetzt %n Dateien, die vom installierten Build abweichen (vielleicht eine Mod oder eine geänderte Einstellung). Was soll mit ihnen geschehen?</numerusform>
        </translation>
    </message>
    <message>
        <source>&amp;Take the new version (keep a copy)</source>
        <translation>Neue Version ü&amp;bernehmen (Kopie behalten)</translation>
    </message>
    <message>
        <source>Install the new build&apos;s files; your versions are copied to a folder of their own first (and are also in the rollback point).</source>
        <translation>Die Dateien des neuen Builds installieren; Ihre Versionen werden vorher in einen eigenen Ordner kopiert (und stehen auch im Rücksetzpunkt).</translation>
    </message>
    <message>
        <source>&amp;Keep mine</source>
        <translation>&amp;Meine behalten</translation>
    </message>
    <message>
        <source>Leave your versions of these files as they are.</source>
        <translation>Ihre Versionen dieser Dateien so lassen, wie sie sind.</translation>
    </message>
</context>
<context>
    <name>Dialogs</name>
    <message>
        <source>Slipstream ran into an internal error; nothing in the game folder was changed half-way.</source>
        <translation>In Slipstream ist ein interner Fehler aufgetreten; im Spielordner wurde nichts halb geändert.</translation>
    </message>
    <message>
        <source>Try again. If it happens again, please report it with the details below.</source>
        <translation>Versuchen Sie es erneut. Wenn es wieder passiert, melden Sie es bitte mit den Einzelheiten unten.</translation>
    </message>
    <message>
        <source>Quit Slipstream?</source>
        <translation>Slipstream beenden?</translation>
    </message>
    <message>
        <source>%n job(s) are still running. Quit anyway? Running updates stop cleanly and resume from what was downloaded when you update again.</source>
        <translation>Laufende Aufgaben: %n. Trotzdem beenden? Laufende Aktualisierungen halten sauber an und setzen beim nächsten Aktualisieren beim schon Heruntergeladenen fort.</translation>
    </message>
</context>
<context>
    <name>FilesModel</name>
    <message>
        <source>File</source>
        <translation>Datei</translation>
    </message>
    <message>
        <source>Action</source>
        <translation>Aktion</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Zustand</translation>
    </message>
    <message>
        <source>patch</source>
        <translation>Patch</translation>
    </message>
    <message>
        <source>changed chunks</source>
        <translation>geänderte Blöcke</translation>
    </message>
    <message>
        <source>download</source>
        <translation>Download</translation>
    </message>
    <message>
        <source>remove</source>
        <translation>Entfernen</translation>
    </message>
    <message>
        <source>waiting</source>
        <translation>wartet</translation>
    </message>
    <message>
        <source>downloading</source>
        <translation>lädt</translation>
    </message>
    <message>
        <source>downloaded</source>
        <translation>heruntergeladen</translation>
    </message>
    <message>
        <source>patching</source>
        <translation>patcht</translation>
    </message>
    <message>
        <source>patched</source>
        <translation>gepatcht</translation>
    </message>
    <message>
        <source>fetched</source>
        <translation>geladen</translation>
    </message>
    <message>
        <source>fell back</source>
        <translation>Ersatz geladen</translation>
    </message>
    <message>
        <source>fell back, verified</source>
        <translation>Ersatz geladen, geprüft</translation>
    </message>
    <message>
        <source>verified</source>
        <translation>geprüft</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>gestoppt</translation>
    </message>
    <message>
        <source>removed</source>
        <translation>entfernt</translation>
    </message>
</context>
<context>
    <name>GamePane</name>
    <message>
        <source>Your files the last update moved aside</source>
        <translation>Ihre Dateien, die die letzte Aktualisierung beiseitegelegt hat</translation>
    </message>
    <message>
        <source>No game selected</source>
        <translation>Kein Spiel ausgewählt</translation>
    </message>
    <message>
        <source>Selected game</source>
        <translation>Ausgewähltes Spiel</translation>
    </message>
    <message>
        <source>&amp;Update</source>
        <translation>&amp;Aktualisieren</translation>
    </message>
    <message>
        <source>Update to the selected build (default: newest)</source>
        <translation>Auf den ausgewählten Build aktualisieren (sonst den neuesten)</translation>
    </message>
    <message>
        <source>&amp;Verify</source>
        <translation>&amp;Prüfen</translation>
    </message>
    <message>
        <source>Check every file and repair broken ones</source>
        <translation>Jede Datei prüfen und beschädigte reparieren</translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation>Abb&amp;rechen</translation>
    </message>
    <message>
        <source>Stop cleanly; the next run resumes</source>
        <translation>Sauber anhalten; der nächste Lauf setzt fort</translation>
    </message>
    <message>
        <source>&amp;Play</source>
        <translation>&amp;Spielen</translation>
    </message>
    <message>
        <source>Start the game (its build&apos;s launch task)</source>
        <translation>Das Spiel starten (die Startaufgabe seines Builds)</translation>
    </message>
    <message>
        <source>U&amp;ninstall…</source>
        <translation>Dei&amp;nstallieren…</translation>
    </message>
    <message>
        <source>Remove the game&apos;s files; your saves and other files stay</source>
        <translation>Die Dateien des Spiels entfernen; Ihre Spielstände und anderen Dateien bleiben</translation>
    </message>
    <message>
        <source>Whether the game&apos;s repository is signed</source>
        <translation>Ob das Repository des Spiels signiert ist</translation>
    </message>
    <message>
        <source>Repository: signed (root key {0})</source>
        <translation>Repository: signiert (Stammschlüssel {0})</translation>
    </message>
    <message>
        <source>Every document of this game&apos;s repository is checked against the signed metadata of the root key named here; tampered, replayed or stale documents are refused.</source>
        <translation>Jedes Dokument des Repositorys dieses Spiels wird gegen die signierten Metadaten des hier genannten Stammschlüssels geprüft; manipulierte, wieder eingespielte oder veraltete Dokumente werden abgelehnt.</translation>
    </message>
    <message>
        <source>Repository: unsigned</source>
        <translation>Repository: nicht signiert</translation>
    </message>
    <message>
        <source>The repository publishes no signed metadata: its documents are checked against their hashes only, which guards against damage, not against a mirror that lies.</source>
        <translation>Das Repository veröffentlicht keine signierten Metadaten: Seine Dokumente werden nur gegen ihre Prüfsummen geprüft; das schützt vor Beschädigung, nicht vor einem Spiegel, der lügt.</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>Version</translation>
    </message>
    <message>
        <source>Build</source>
        <translation>Build</translation>
    </message>
    <message>
        <source>Branch</source>
        <translation>Zweig</translation>
    </message>
    <message>
        <source>Published</source>
        <translation>Veröffentlicht</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>Download</translation>
    </message>
    <message>
        <source>Builds of this game. Select one (older ones too) and press Update.</source>
        <translation>Builds dieses Spiels. Wählen Sie einen (auch ältere) und drücken Sie „Aktualisieren“.</translation>
    </message>
    <message>
        <source>Builds</source>
        <translation>Builds</translation>
    </message>
    <message>
        <source>Each file of the running job</source>
        <translation>Jede Datei der laufenden Aufgabe</translation>
    </message>
    <message>
        <source>Files</source>
        <translation>Dateien</translation>
    </message>
    <message>
        <source>&amp;Builds</source>
        <translation>&amp;Builds</translation>
    </message>
    <message>
        <source>&amp;Files</source>
        <translation>&amp;Dateien</translation>
    </message>
    <message>
        <source>&amp;History</source>
        <translation>&amp;Verlauf</translation>
    </message>
    <message>
        <source>&amp;Statistics</source>
        <translation>S&amp;tatistik</translation>
    </message>
    <message>
        <source>The branch the game follows; choosing another moves it to that branch&apos;s newest build.</source>
        <translation>Der Zweig, dem das Spiel folgt; ein anderer bringt es auf den neuesten Build jenes Zweigs.</translation>
    </message>
    <message>
        <source>B&amp;ranch:</source>
        <translation>Z&amp;weig:</translation>
    </message>
    <message>
        <source>default</source>
        <translation>Standard</translation>
    </message>
    <message>
        <source>Private branch (password)…</source>
        <translation>Privater Zweig (Passwort)…</translation>
    </message>
    <message>
        <source>When</source>
        <translation>Wann</translation>
    </message>
    <message>
        <source>Operation</source>
        <translation>Vorgang</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Ergebnis</translation>
    </message>
    <message>
        <source>Downloaded</source>
        <translation>Heruntergeladen</translation>
    </message>
    <message>
        <source>Saved</source>
        <translation>Gespart</translation>
    </message>
    <message>
        <source>Fallbacks</source>
        <translation>Ersatz-Downloads</translation>
    </message>
    <message>
        <source>Rollback</source>
        <translation>Zurücksetzen</translation>
    </message>
    <message>
        <source>Every operation on this game. Select an update and press Roll back.</source>
        <translation>Jeder Vorgang an diesem Spiel. Wählen Sie eine Aktualisierung und drücken Sie „Zurücksetzen“.</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Verlauf</translation>
    </message>
    <message>
        <source>Kept since</source>
        <translation>Behalten seit</translation>
    </message>
    <message>
        <source>Restores</source>
        <translation>Stellt her</translation>
    </message>
    <message>
        <source>Content</source>
        <translation>Inhalt</translation>
    </message>
    <message>
        <source>Rollback points on disk: restoring one needs no download.</source>
        <translation>Rücksetzpunkte auf dem Datenträger: Sie wiederherzustellen braucht keinen Download.</translation>
    </message>
    <message>
        <source>Rollback points</source>
        <translation>Rücksetzpunkte</translation>
    </message>
    <message>
        <source>&amp;Roll back</source>
        <translation>&amp;Zurücksetzen</translation>
    </message>
    <message>
        <source>Go back to the build before it</source>
        <translation>Zum Build davor zurückkehren</translation>
    </message>
    <message>
        <source>Rollback points &amp;kept on disk:</source>
        <translation>Auf dem Datenträger be&amp;haltene Rücksetzpunkte:</translation>
    </message>
    <message numerus="yes">
        <source>The update shipped %n file(s) you already had ({0}); your copies were moved to {1}.</source>
        <translation>
            <numerusform>Die Aktualisierung brachte %n Datei mit, die Sie schon hatten ({0}); Ihre Kopie wurde nach {1} verschoben.</numerusform>
            <numerusform>Die Aktualisierung brachte %n Dateien mit, die Sie schon hatten ({0}); Ihre Kopien wurden nach {1} verschoben.</numerusform>
        </translation>
    </message>
    <message>
        <source>Statistics</source>
        <translation>Statistik</translation>
    </message>
</context>
<context>
    <name>LibraryPane</name>
    <message>
        <source>Your games. Select one to see its builds and history.</source>
        <translation>Ihre Spiele. Wählen Sie eines, um seine Builds und seinen Verlauf zu sehen.</translation>
    </message>
    <message>
        <source>Games</source>
        <translation>Spiele</translation>
    </message>
    <message>
        <source>&amp;Add game…</source>
        <translation>Spiel &amp;hinzufügen…</translation>
    </message>
    <message>
        <source>Install a game from a repository</source>
        <translation>Ein Spiel aus einem Repository installieren</translation>
    </message>
    <message>
        <source>Co&amp;vers</source>
        <translation>Co&amp;ver</translation>
    </message>
    <message>
        <source>Show the games as a grid of covers</source>
        <translation>Die Spiele als Raster ihrer Cover zeigen</translation>
    </message>
    <message>
        <source>{game}: {status}</source>
        <translation>{game}: {status}</translation>
    </message>
    <message>
        <source>Games as covers</source>
        <translation>Spiele als Cover</translation>
    </message>
</context>
<context>
    <name>LoginDialog</name>
    <message>
        <source>Log in to GOG</source>
        <translation>Bei GOG anmelden</translation>
    </message>
    <message>
        <source>1. Open GOG&apos;s login page and log in.
2. The browser ends on a blank page: copy its whole address (it contains “code=”) and paste it below.</source>
        <translation>1. Öffnen Sie die Anmeldeseite von GOG und melden Sie sich an.
2. Der Browser endet auf einer leeren Seite: Kopieren Sie ihre vollständige Adresse (sie enthält „code=“) und fügen Sie sie unten ein.</translation>
    </message>
    <message>
        <source>Open in browser</source>
        <translation>Im Browser öffnen</translation>
    </message>
    <message>
        <source>https://embed.gog.com/on_login_success?origin=client&amp;code=…</source>
        <translation>https://embed.gog.com/on_login_success?origin=client&amp;code=…</translation>
    </message>
    <message>
        <source>Log in</source>
        <translation>Anmelden</translation>
    </message>
    <message>
        <source>Log out</source>
        <translation>Abmelden</translation>
    </message>
    <message>
        <source>Logged in as %1</source>
        <translation>Angemeldet als %1</translation>
    </message>
    <message>
        <source>Not logged in</source>
        <translation>Nicht angemeldet</translation>
    </message>
    <message>
        <source>No browser could be opened: copy the address above into one.</source>
        <translation>Es ließ sich kein Browser öffnen: Kopieren Sie die Adresse oben in einen.</translation>
    </message>
    <message>
        <source>Login failed unexpectedly ({error}).</source>
        <translation>Die Anmeldung ist unerwartet fehlgeschlagen ({error}).</translation>
    </message>
    <message>
        <source>Logging in…</source>
        <translation>Anmeldung läuft…</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Library</source>
        <translation>Bibliothek</translation>
    </message>
    <message>
        <source>build</source>
        <translation>Build</translation>
    </message>
    <message>
        <source>{name} — {version} ({build})</source>
        <translation>{name} — {version} ({build})</translation>
    </message>
    <message>
        <source>{name} — {version} ({build}) · branch {branch}</source>
        <translation>{name} — {version} ({build}) · Zweig {branch}</translation>
    </message>
    <message>
        <source>No game yet: press Add game to install one</source>
        <translation>Noch kein Spiel: Drücken Sie „Spiel hinzufügen“, um eines zu installieren</translation>
    </message>
    <message>
        <source>Installing into {folder}</source>
        <translation>Installation in {folder}</translation>
    </message>
    <message>
        <source>&amp;Update</source>
        <translation>&amp;Aktualisieren</translation>
    </message>
    <message>
        <source>Go back to {version}</source>
        <translation>Zurück zu {version}</translation>
    </message>
    <message>
        <source>Update to {version}</source>
        <translation>Auf {version} aktualisieren</translation>
    </message>
    <message>
        <source>{0}: {1}</source>
        <translation>{0}: {1}</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>Wird gestoppt…</translation>
    </message>
    <message>
        <source>Add a game already on this computer</source>
        <translation>Ein Spiel hinzufügen, das schon auf diesem Computer ist</translation>
    </message>
    <message>
        <source>Settings not saved</source>
        <translation>Einstellungen nicht gespeichert</translation>
    </message>
    <message>
        <source>Start at login not changed</source>
        <translation>Start bei der Anmeldung nicht geändert</translation>
    </message>
    <message>
        <source>GOG: logged in as {name} (log out…)</source>
        <translation>GOG: angemeldet als {name} (abmelden…)</translation>
    </message>
    <message>
        <source>&amp;Account ({name})</source>
        <translation>&amp;Konto ({name})</translation>
    </message>
    <message>
        <source>Log in to &amp;GOG…</source>
        <translation>Bei &amp;GOG anmelden…</translation>
    </message>
    <message>
        <source>&amp;Account</source>
        <translation>&amp;Konto</translation>
    </message>
    <message>
        <source>Still running in the tray; Quit from its menu.</source>
        <translation>Läuft im Infobereich weiter; beenden Sie es über dessen Menü.</translation>
    </message>
</context>
<context>
    <name>Manage</name>
    <message>
        <source>Private branch</source>
        <translation>Privater Zweig</translation>
    </message>
    <message>
        <source>The password of the private branch (a beta, say) the publisher gave you:</source>
        <translation>Das Passwort des privaten Zweigs (etwa einer Beta), das Sie vom Herausgeber erhalten haben:</translation>
    </message>
    <message>
        <source>Busy</source>
        <translation>Beschäftigt</translation>
    </message>
    <message>
        <source>{0} is busy with another job; wait for it.</source>
        <translation>{0} ist mit einer anderen Aufgabe beschäftigt; warten Sie, bis sie fertig ist.</translation>
    </message>
    <message>
        <source>Uninstall failed</source>
        <translation>Deinstallation fehlgeschlagen</translation>
    </message>
    <message>
        <source>Could not start the game</source>
        <translation>Das Spiel ließ sich nicht starten</translation>
    </message>
    <message>
        <source>Could not change the source</source>
        <translation>Die Quelle ließ sich nicht ändern</translation>
    </message>
    <message>
        <source>Uninstall {0}?</source>
        <translation>{0} deinstallieren?</translation>
    </message>
    <message>
        <source>Remove {0} from {1}?</source>
        <translation>{0} aus {1} entfernen?</translation>
    </message>
    <message>
        <source>The game&apos;s files go. Files of yours that no build of it has (saves, mods, screenshots) stay in the folder.</source>
        <translation>Die Dateien des Spiels werden entfernt. Ihre eigenen Dateien, die in keinem seiner Builds vorkommen (Spielstände, Mods, Bildschirmfotos), bleiben im Ordner.</translation>
    </message>
    <message numerus="yes">
        <source>{0}: removed %n file(s)</source>
        <translation>
            <numerusform>{0}: %n Datei entfernt</numerusform>
            <numerusform>{0}: %n Dateien entfernt</numerusform>
        </translation>
    </message>
    <message>
        <source>; kept yours in {0}: {1}</source>
        <translation>; Ihre Dateien in {0} behalten: {1}</translation>
    </message>
    <message>
        <source>Uninstalled</source>
        <translation>Deinstalliert</translation>
    </message>
    <message>
        <source>Started {0}.</source>
        <translation>{0} gestartet.</translation>
    </message>
    <message>
        <source>Playing</source>
        <translation>Spiel läuft</translation>
    </message>
    <message>
        <source>Change source</source>
        <translation>Quelle ändern</translation>
    </message>
    <message>
        <source>Where the game&apos;s updates come from: a repository&apos;s address (https://…), or gog.</source>
        <translation>Woher die Aktualisierungen des Spiels kommen: die Adresse eines Repositorys (https://…) oder gog.</translation>
    </message>
    <message>
        <source>{0} now updates from {1}.</source>
        <translation>{0} wird jetzt aus {1} aktualisiert.</translation>
    </message>
    <message>
        <source>Source changed</source>
        <translation>Quelle geändert</translation>
    </message>
    <message>
        <source>Still listing the builds; try again.</source>
        <translation>Die Builds werden noch aufgelistet; versuchen Sie es erneut.</translation>
    </message>
    <message>
        <source>Private branches now offered: {0}.</source>
        <translation>Jetzt angebotene private Zweige: {0}.</translation>
    </message>
    <message>
        <source>No new branch opened with that password.</source>
        <translation>Mit diesem Passwort wurde kein neuer Zweig freigeschaltet.</translation>
    </message>
    <message>
        <source>Private branches</source>
        <translation>Private Zweige</translation>
    </message>
    <message>
        <source>Could not list the private branches</source>
        <translation>Die privaten Zweige ließen sich nicht auflisten</translation>
    </message>
</context>
<context>
    <name>Menus</name>
    <message>
        <source>&amp;Add game…</source>
        <translation>Spiel &amp;hinzufügen…</translation>
    </message>
    <message>
        <source>Add &amp;existing game…</source>
        <translation>&amp;Vorhandenes Spiel hinzufügen…</translation>
    </message>
    <message>
        <source>&amp;Check for updates</source>
        <translation>Nach Aktualisierungen &amp;suchen</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Einstellungen…</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>Log in to &amp;GOG…</source>
        <translation>Bei &amp;GOG anmelden…</translation>
    </message>
    <message>
        <source>&amp;Account</source>
        <translation>&amp;Konto</translation>
    </message>
    <message>
        <source>Change &amp;source…</source>
        <translation>&amp;Quelle ändern…</translation>
    </message>
    <message>
        <source>Open &amp;folder</source>
        <translation>&amp;Ordner öffnen</translation>
    </message>
    <message>
        <source>Install a game: pick it from a source&apos;s list, then a build</source>
        <translation>Ein Spiel installieren: aus der Liste einer Quelle wählen, dann einen Build</translation>
    </message>
    <message>
        <source>&amp;Slipstream</source>
        <translation>&amp;Slipstream</translation>
    </message>
    <message>
        <source>&amp;Game</source>
        <translation>S&amp;piel</translation>
    </message>
    <message>
        <source>Main</source>
        <translation>Haupt</translation>
    </message>
    <message>
        <source>Main toolbar</source>
        <translation>Hauptwerkzeugleiste</translation>
    </message>
</context>
<context>
    <name>Operations</name>
    <message>
        <source>Busy</source>
        <translation>Beschäftigt</translation>
    </message>
    <message>
        <source>{0} is busy with another job; wait for it.</source>
        <translation>{0} ist mit einer anderen Aufgabe beschäftigt; warten Sie, bis sie fertig ist.</translation>
    </message>
    <message>
        <source>{0} stopped</source>
        <translation>{0} gestoppt</translation>
    </message>
    <message>
        <source>internal error</source>
        <translation>interner Fehler</translation>
    </message>
    <message>
        <source>{0} failed</source>
        <translation>{0} fehlgeschlagen</translation>
    </message>
    <message>
        <source>{0} is up to date (build {1}).</source>
        <translation>{0} ist aktuell (Build {1}).</translation>
    </message>
    <message>
        <source>Up to date</source>
        <translation>Aktuell</translation>
    </message>
    <message>
        <source>The update was not started.</source>
        <translation>Die Aktualisierung wurde nicht gestartet.</translation>
    </message>
    <message>
        <source>{0} is now {1} ({2}): downloaded {3}, saved {4}</source>
        <translation>{0} ist jetzt {1} ({2}): {3} heruntergeladen, {4} gespart</translation>
    </message>
    <message>
        <source>build</source>
        <translation>Build</translation>
    </message>
    <message numerus="yes">
        <source>; %n file(s) fell back to a full download</source>
        <translation>
            <numerusform>; %n Datei wurde ersatzweise vollständig heruntergeladen</numerusform>
            <numerusform>; %n Dateien wurden ersatzweise vollständig heruntergeladen</numerusform>
        </translation>
    </message>
    <message>
        <source>; your changed files were copied to {0}</source>
        <translation>; Ihre geänderten Dateien wurden nach {0} kopiert</translation>
    </message>
    <message numerus="yes">
        <source>; %n file(s) of yours that the new build ships ({0}) were moved to {1}</source>
        <translation>
            <numerusform>; %n Datei von Ihnen, die der neue Build mitbringt ({0}), wurde nach {1} verschoben</numerusform>
            <numerusform>; %n Dateien von Ihnen, die der neue Build mitbringt ({0}), wurden nach {1} verschoben</numerusform>
        </translation>
    </message>
    <message>
        <source>Update finished</source>
        <translation>Aktualisierung abgeschlossen</translation>
    </message>
    <message>
        <source>Back at {0} ({1}).</source>
        <translation>Wieder bei {0} ({1}).</translation>
    </message>
    <message>
        <source>Rolled back</source>
        <translation>Zurückgesetzt</translation>
    </message>
    <message numerus="yes">
        <source>Repaired %n file(s): {0}.</source>
        <translation>
            <numerusform>%n Datei repariert: {0}.</numerusform>
            <numerusform>%n Dateien repariert: {0}.</numerusform>
        </translation>
    </message>
    <message>
        <source>All {0} files are intact.</source>
        <translation>Alle {0} Dateien sind intakt.</translation>
    </message>
    <message>
        <source>Verify finished</source>
        <translation>Prüfung abgeschlossen</translation>
    </message>
    <message>
        <source>Installed</source>
        <translation>Installiert</translation>
    </message>
    <message>
        <source>Installed {0} ({1}) in {2}.</source>
        <translation>{0} ({1}) in {2} installiert.</translation>
    </message>
    <message>
        <source>Game added</source>
        <translation>Spiel hinzugefügt</translation>
    </message>
    <message>
        <source>Added {0} (build {1}) to the library.</source>
        <translation>{0} (Build {1}) wurde zur Bibliothek hinzugefügt.</translation>
    </message>
    <message>
        <source>Update available</source>
        <translation>Aktualisierung verfügbar</translation>
    </message>
    <message>
        <source>{0} {1} is out.</source>
        <translation>{0} {1} ist erschienen.</translation>
    </message>
    <message>
        <source>Could not check for updates</source>
        <translation>Suche nach Aktualisierungen fehlgeschlagen</translation>
    </message>
    <message>
        <source>{0}: {1}</source>
        <translation>{0}: {1}</translation>
    </message>
    <message>
        <source>{0} {1} is out. It was not updated on its own because {2} of its files were changed on this computer: press Update to choose which to keep.</source>
        <translation>{0} {1} ist erschienen. Das Spiel wurde nicht automatisch aktualisiert, weil {2} seiner Dateien auf diesem Computer geändert wurden: Drücken Sie „Aktualisieren“, um zu wählen, welche bleiben.</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Verlauf</translation>
    </message>
    <message>
        <source>Update</source>
        <translation>Aktualisierung</translation>
    </message>
    <message>
        <source>Install</source>
        <translation>Installation</translation>
    </message>
    <message>
        <source>Rollback</source>
        <translation>Zurücksetzen</translation>
    </message>
    <message>
        <source>Verify</source>
        <translation>Prüfung</translation>
    </message>
    <message>
        <source>Adding the game</source>
        <translation>Hinzufügen des Spiels</translation>
    </message>
    <message>
        <source>the {0} already downloaded</source>
        <translation>den schon heruntergeladenen {0}</translation>
    </message>
    <message>
        <source>what was downloaded</source>
        <translation>dem, was schon heruntergeladen wurde</translation>
    </message>
    <message>
        <source>The game is unchanged. Press Update again to resume from {0}.</source>
        <translation>Das Spiel ist unverändert. Drücken Sie erneut „Aktualisieren“, um bei {0} fortzusetzen.</translation>
    </message>
    <message>
        <source>Nothing was installed. Install into the same folder again to resume from {0}.</source>
        <translation>Es wurde nichts installiert. Installieren Sie erneut in denselben Ordner, um bei {0} fortzusetzen.</translation>
    </message>
    <message>
        <source>The game is at whichever build its row shows.</source>
        <translation>Das Spiel ist auf dem Build, den seine Zeile zeigt.</translation>
    </message>
    <message>
        <source>Nothing was repaired. Press Verify to check again.</source>
        <translation>Es wurde nichts repariert. Drücken Sie „Prüfen“, um erneut zu prüfen.</translation>
    </message>
    <message>
        <source>Nothing was changed.</source>
        <translation>Es wurde nichts geändert.</translation>
    </message>
</context>
<context>
    <name>ProgressPanel</name>
    <message>
        <source>The {job} finished.</source>
        <translation>{job} abgeschlossen.</translation>
    </message>
    <message>
        <source>The {job} was stopped.</source>
        <translation>{job} gestoppt.</translation>
    </message>
    <message>
        <source>The {job} failed.</source>
        <translation>{job} fehlgeschlagen.</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Fertig</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Gestoppt</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fehlgeschlagen</translation>
    </message>
    <message>
        <source>No job running</source>
        <translation>Keine Aufgabe läuft</translation>
    </message>
    <message>
        <source>Progress of the running step of the job</source>
        <translation>Fortschritt des laufenden Schritts der Aufgabe</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>Fortschritt</translation>
    </message>
    <message>
        <source>What the job is doing</source>
        <translation>Was die Aufgabe gerade tut</translation>
    </message>
    <message>
        <source>Progress details</source>
        <translation>Einzelheiten zum Fortschritt</translation>
    </message>
    <message>
        <source>{done} of {total} ({percent})</source>
        <translation>{done} von {total} ({percent})</translation>
    </message>
    <message>
        <source>{done} of {total} files ({percent})</source>
        <translation>Dateien: {done} von {total} ({percent})</translation>
    </message>
    <message>
        <source>checked {done} of {total} files</source>
        <translation>Dateien geprüft: {done} von {total}</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>Wird gestartet…</translation>
    </message>
    <message>
        <source>Starting the {job}…</source>
        <translation>{job} wird gestartet…</translation>
    </message>
    <message>
        <source>downloaded {done} of {total}</source>
        <translation>{done} von {total} heruntergeladen</translation>
    </message>
    <message>
        <source>repair downloaded {done} of {total}</source>
        <translation>für die Reparatur {done} von {total} heruntergeladen</translation>
    </message>
    <message>
        <source>{size} of it kept from before</source>
        <translation>davon {size} von vorher behalten</translation>
    </message>
    <message>
        <source>{time} left</source>
        <translation>noch {time}</translation>
    </message>
    <message>
        <source>patches and reuse save {size} ({percent}%)</source>
        <translation>Patches und Wiederverwendung sparen {size} ({percent} %)</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Repositories Slipstream looks in for games and updates. “gog” stands for GOG&apos;s own servers. Press Delete to remove the selected ones.</source>
        <translation>Repositorys, in denen Slipstream nach Spielen und Aktualisierungen sucht. „gog“ steht für die eigenen Server von GOG. Mit Entf entfernen Sie die ausgewählten.</translation>
    </message>
    <message>
        <source>The address of a repository (http:// or https://), or the word gog; press Enter or Add to add it to the list.</source>
        <translation>Die Adresse eines Repositorys (http:// oder https://) oder das Wort gog; mit der Eingabetaste oder „Hinzufügen“ kommt sie in die Liste.</translation>
    </message>
    <message>
        <source>&amp;Add</source>
        <translation>&amp;Hinzufügen</translation>
    </message>
    <message>
        <source>Add the address typed beside this button to the sources.</source>
        <translation>Die neben dieser Schaltfläche eingegebene Adresse zu den Quellen hinzufügen.</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>&amp;Entfernen</translation>
    </message>
    <message>
        <source>Remove the selected sources from the list.</source>
        <translation>Die ausgewählten Quellen aus der Liste entfernen.</translation>
    </message>
    <message>
        <source>How many files are downloaded at the same time (1 to 32).</source>
        <translation>Wie viele Dateien gleichzeitig heruntergeladen werden (1 bis 32).</translation>
    </message>
    <message>
        <source> KiB/s</source>
        <translation> KiB/s</translation>
    </message>
    <message>
        <source>No limit</source>
        <translation>Keine Grenze</translation>
    </message>
    <message>
        <source>The most download bandwidth Slipstream may use, in KiB/s; 0 means no limit.</source>
        <translation>Die höchste Download-Bandbreite, die Slipstream nutzen darf, in KiB/s; 0 heißt keine Grenze.</translation>
    </message>
    <message>
        <source> h</source>
        <translation> Std.</translation>
    </message>
    <message>
        <source>Never</source>
        <translation>Nie</translation>
    </message>
    <message>
        <source>Hours between background checks for new builds (at least 0.25); 0 means never check on its own.</source>
        <translation>Stunden zwischen den Suchen nach neuen Builds im Hintergrund (mindestens 0,25); 0 heißt: nie von selbst suchen.</translation>
    </message>
    <message>
        <source>How many earlier versions of each game stay on disk so you can roll back without downloading (0 to 20); each one costs the disk space of the files an update replaced.</source>
        <translation>Wie viele frühere Versionen jedes Spiels auf dem Datenträger bleiben, damit Sie ohne Download zurücksetzen können (0 bis 20); jede kostet den Speicherplatz der Dateien, die eine Aktualisierung ersetzt hat.</translation>
    </message>
    <message>
        <source>Show desktop &amp;notifications</source>
        <translation>Desktop-Be&amp;nachrichtigungen anzeigen</translation>
    </message>
    <message>
        <source>Tell you about new builds and finished or failed updates through the desktop&apos;s notifications (the tray&apos;s messages where there are none). Off: only the window&apos;s status bar shows them.</source>
        <translation>Über neue Builds und abgeschlossene oder fehlgeschlagene Aktualisierungen mit den Benachrichtigungen des Desktops informieren (wo es keine gibt, mit den Meldungen des Infobereichs). Aus: Nur die Statusleiste des Fensters zeigt sie.</translation>
    </message>
    <message>
        <source>Start Slipstream at &amp;login (in the tray)</source>
        <translation>Slipstream bei der &amp;Anmeldung starten (im Infobereich)</translation>
    </message>
    <message>
        <source>Start Slipstream in the tray when you log in, so it checks for updates without you opening it (minimized where the desktop has no tray).</source>
        <translation>Slipstream beim Anmelden im Infobereich starten, damit es nach Aktualisierungen sucht, ohne dass Sie es öffnen (minimiert, wo der Desktop keinen Infobereich hat).</translation>
    </message>
    <message>
        <source>Starting at login is not supported on this system yet.</source>
        <translation>Der Start bei der Anmeldung wird auf diesem System noch nicht unterstützt.</translation>
    </message>
    <message>
        <source>&amp;Update games automatically</source>
        <translation>Spiele automatisch a&amp;ktualisieren</translation>
    </message>
    <message>
        <source>When a background check finds a newer build, update the game on its own and tell you when it is done. A game whose files you changed is not updated on its own: you are told, and choose what to keep when you update.</source>
        <translation>Findet eine Suche im Hintergrund einen neueren Build, wird das Spiel von selbst aktualisiert, und Sie werden benachrichtigt, wenn es fertig ist. Ein Spiel, dessen Dateien Sie geändert haben, wird nicht von selbst aktualisiert: Sie werden informiert und wählen beim Aktualisieren, was bleibt.</translation>
    </message>
    <message>
        <source>&amp;Sources:</source>
        <translation>&amp;Quellen:</translation>
    </message>
    <message>
        <source>A&amp;ddress:</source>
        <translation>A&amp;dresse:</translation>
    </message>
    <message>
        <source>Download &amp;threads:</source>
        <translation>Download-&amp;Threads:</translation>
    </message>
    <message>
        <source>&amp;Bandwidth limit:</source>
        <translation>&amp;Bandbreitengrenze:</translation>
    </message>
    <message>
        <source>&amp;Check for updates every:</source>
        <translation>Nach Aktualisierungen &amp;suchen alle:</translation>
    </message>
    <message>
        <source>Rollback &amp;points to keep:</source>
        <translation>Zu behaltende Rücksetz&amp;punkte:</translation>
    </message>
    <message>
        <source>{0} is already in the list.</source>
        <translation>{0} steht schon in der Liste.</translation>
    </message>
</context>
<context>
    <name>StatsView</name>
    <message>
        <source>No updates yet</source>
        <translation>Noch keine Aktualisierungen</translation>
    </message>
    <message>
        <source>Update {source} → {target}, {when}</source>
        <translation>Aktualisierung {source} → {target}, {when}</translation>
    </message>
    <message>
        <source>Install of {target}, {when}</source>
        <translation>Installation von {target}, {when}</translation>
    </message>
    <message>
        <source>Repair of {target}, {when}</source>
        <translation>Reparatur von {target}, {when}</translation>
    </message>
    <message>
        <source>Downloaded {size}</source>
        <translation>{size} heruntergeladen</translation>
    </message>
    <message>
        <source>Downloaded {size}, {more} more than full downloads ({full})</source>
        <translation>{size} heruntergeladen, {more} mehr als vollständige Downloads ({full})</translation>
    </message>
    <message>
        <source>Saved {saved} of {full} ({percent}%)</source>
        <translation>{saved} von {full} gespart ({percent} %)</translation>
    </message>
    <message>
        <source>Downloaded: {size} ({count} bytes)</source>
        <translation>Heruntergeladen: {size} ({count} Bytes)</translation>
    </message>
    <message>
        <source>Full download: {size} ({count} bytes)</source>
        <translation>Vollständiger Download: {size} ({count} Bytes)</translation>
    </message>
    <message>
        <source>Saved: {percent}%</source>
        <translation>Gespart: {percent} %</translation>
    </message>
    <message>
        <source>no time recorded</source>
        <translation>keine Zeit erfasst</translation>
    </message>
    <message>
        <source>Speed: {rate} ({count} bytes in {seconds} s)</source>
        <translation>Geschwindigkeit: {rate} ({count} Bytes in {seconds} s)</translation>
    </message>
    <message>
        <source>Update statistics</source>
        <translation>Statistik der Aktualisierungen</translation>
    </message>
    <message>
        <source>Downloaded</source>
        <translation>Heruntergeladen</translation>
    </message>
    <message>
        <source>Full download</source>
        <translation>Vollständiger Download</translation>
    </message>
    <message>
        <source> · bytes per update, log scale</source>
        <translation> · Bytes pro Aktualisierung, logarithmische Skala</translation>
    </message>
    <message>
        <source>Download speed per update</source>
        <translation>Download-Geschwindigkeit pro Aktualisierung</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>&amp;Open Slipstream</source>
        <translation>Slipstream ö&amp;ffnen</translation>
    </message>
    <message>
        <source>&amp;Check now</source>
        <translation>Jetzt &amp;suchen</translation>
    </message>
    <message>
        <source>&amp;Update all</source>
        <translation>Alle &amp;aktualisieren</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
</context>
<context>
    <name>Views</name>
    <message>
        <source>Preparing update</source>
        <translation>Vorbereitung der Aktualisierung</translation>
    </message>
    <message>
        <source>Updating</source>
        <translation>Aktualisierung</translation>
    </message>
    <message>
        <source>Installing</source>
        <translation>Installation</translation>
    </message>
    <message>
        <source>Rolling back</source>
        <translation>Zurücksetzen</translation>
    </message>
    <message>
        <source>Verifying</source>
        <translation>Prüfung</translation>
    </message>
    <message>
        <source>Adding</source>
        <translation>Hinzufügen</translation>
    </message>
    <message>
        <source>Uninstalling</source>
        <translation>Deinstallation</translation>
    </message>
    <message>
        <source>Starting</source>
        <translation>Spielstart</translation>
    </message>
    <message>
        <source>Changing source</source>
        <translation>Quellenwechsel</translation>
    </message>
    <message>
        <source>update</source>
        <translation>Aktualisierung</translation>
    </message>
    <message>
        <source>install</source>
        <translation>Installation</translation>
    </message>
    <message>
        <source>rollback</source>
        <translation>Zurücksetzen</translation>
    </message>
    <message>
        <source>verify</source>
        <translation>Prüfung</translation>
    </message>
    <message>
        <source>repair</source>
        <translation>Reparatur</translation>
    </message>
    <message>
        <source>adopt</source>
        <translation>Übernahme</translation>
    </message>
    <message>
        <source>uninstall</source>
        <translation>Deinstallation</translation>
    </message>
    <message>
        <source>ok</source>
        <translation>ok</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>fehlgeschlagen</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>abgebrochen</translation>
    </message>
    <message>
        <source>planning</source>
        <translation>Planen</translation>
    </message>
    <message>
        <source>downloading</source>
        <translation>Herunterladen</translation>
    </message>
    <message>
        <source>patching</source>
        <translation>Patchen</translation>
    </message>
    <message>
        <source>assembling</source>
        <translation>Zusammensetzen</translation>
    </message>
    <message>
        <source>verifying</source>
        <translation>Prüfen</translation>
    </message>
    <message>
        <source>committing</source>
        <translation>Übernehmen</translation>
    </message>
    <message>
        <source>restoring</source>
        <translation>Wiederherstellen</translation>
    </message>
    <message>
        <source>keeping copies</source>
        <translation>Kopien sichern</translation>
    </message>
    <message>
        <source>checking files</source>
        <translation>Dateien prüfen</translation>
    </message>
    <message>
        <source>hashing</source>
        <translation>Prüfsummen berechnen</translation>
    </message>
    <message>
        <source>Game</source>
        <translation>Spiel</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>Version</translation>
    </message>
    <message>
        <source>Build</source>
        <translation>Build</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Size on disk</source>
        <translation>Größe</translation>
    </message>
    <message>
        <source>Working</source>
        <translation>Vorgang</translation>
    </message>
    <message>
        <source>{doing}…</source>
        <translation>{doing} läuft…</translation>
    </message>
    <message>
        <source>{doing}: {phase} {percent}</source>
        <translation>{doing}: {phase} {percent}</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>Fehler</translation>
    </message>
    <message>
        <source>Needs repair</source>
        <translation>Reparatur nötig</translation>
    </message>
    <message>
        <source>Installing…</source>
        <translation>Wird installiert…</translation>
    </message>
    <message>
        <source>Installed</source>
        <translation>Installiert</translation>
    </message>
    <message>
        <source>Update available ({version})</source>
        <translation>Aktualisierung verfügbar ({version})</translation>
    </message>
    <message>
        <source>Up to date</source>
        <translation>Aktuell</translation>
    </message>
    <message>
        <source>installed</source>
        <translation>installiert</translation>
    </message>
    <message>
        <source>not installable (generation 1)</source>
        <translation>nicht installierbar (Generation 1)</translation>
    </message>
    <message>
        <source>unknown</source>
        <translation>unbekannt</translation>
    </message>
    <message>
        <source>{download} (full: {full})</source>
        <translation>{download} (vollständig: {full})</translation>
    </message>
    <message>
        <source>{download} with patches (full: {full})</source>
        <translation>{download} mit Patches (vollständig: {full})</translation>
    </message>
    <message>
        <source>default</source>
        <translation>Standard</translation>
    </message>
    <message>
        <source>{changed} files change, {patched} by patch; {saved}% saved</source>
        <translation>Geänderte Dateien: {changed}, davon {patched} per Patch; {saved} % gespart</translation>
    </message>
    <message>
        <source>on disk</source>
        <translation>auf dem Datenträger</translation>
    </message>
    <message>
        <source>back to {version} (build {build})</source>
        <translation>zurück zu {version} (Build {build})</translation>
    </message>
    <message>
        <source>{replaced} replaced, {added} added</source>
        <translation>{replaced} ersetzt, {added} hinzugefügt</translation>
    </message>
</context>
</TS>
