; ClinicVault's Windows installer (NSIS 3, built on Linux by .ci/windows-build
; with Debian's makensis). Per-machine: the program goes to Program Files,
; the Start-menu shortcut to every user's Start menu. The practice's data is
; not the program's: each person's data folder (%AppData%\ClinicVault) is
; never touched, not by the installer and not by the uninstaller.
;
; makensis -DVERSION=0.1.0 -DVERSION4=0.1.0.1 -DDIST=dist installer.nsi

; A 64-bit installer (Debian's NSIS has the amd64 stubs): ClinicVault is
; 64-bit only, and a 32-bit installer would not run under a 64-bit-only Wine.
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin
ManifestDPIAware true

!ifndef VERSION
  !error "VERSION is not defined (makensis -DVERSION=x.y.z)"
!endif
!ifndef VERSION4
  !define VERSION4 "${VERSION}.0"
!endif
!ifndef DIST
  !define DIST "dist"
!endif

!define APP "ClinicVault"
!define EXE "clinicvault.exe"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
!define DATA_NOTE "Your practice's data has not been removed. Each person's vault stays in their own folder, %AppData%\ClinicVault, with any backups where you chose to keep them. Delete it only when you are sure the practice no longer needs it."

Name "${APP}"
OutFile "${DIST}\${APP}-Setup-${VERSION}.exe"
InstallDir "$PROGRAMFILES64\${APP}"
InstallDirRegKey HKLM "${UNINSTKEY}" "InstallLocation"
BrandingText "${APP} ${VERSION}"

VIProductVersion "${VERSION4}"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "ClinicVault"

!include "MUI2.nsh"
!include "x64.nsh"

!define MUI_ICON "${DIST}\${APP}.ico"
!define MUI_UNICON "${DIST}\${APP}.ico"
!define MUI_ABORTWARNING
; No "Start ClinicVault" box on the last page: the installer runs with an
; administrator's rights, and a program it started would run as that
; administrator (a standard user who typed an admin's password would find
; the vault made in the admin's %AppData%). Each person starts it from the
; Start menu, as themselves.
!define MUI_FINISHPAGE_TEXT "${APP} is installed for every user of this PC. Each person starts it from the Start menu (ClinicVault), signed in to Windows as themselves."

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!define MUI_FINISHPAGE_TITLE "${APP} has been removed"
!define MUI_FINISHPAGE_TEXT "${DATA_NOTE}"
!insertmacro MUI_UNPAGE_FINISH

!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APP} needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "ClinicVault" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "${DIST}\${EXE}"
  File "/oname=${APP}.ico" "${DIST}\${APP}.ico"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${APP}.ico" 0

  WriteRegStr HKLM "${UNINSTKEY}" "DisplayName" "${APP}"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTKEY}" "Publisher" "ClinicVault"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\${APP}.ico"
  WriteRegStr HKLM "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKLM "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\${APP}.lnk"
  Delete "$INSTDIR\${EXE}"
  Delete "$INSTDIR\${APP}.ico"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTKEY}"
  ; Said in the log and, unless silent, in a box: the data stays.
  DetailPrint "${DATA_NOTE}"
  MessageBox MB_OK|MB_ICONINFORMATION "${DATA_NOTE}" /SD IDOK
SectionEnd
